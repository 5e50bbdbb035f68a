package testbed

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNewRoot(t *testing.T) {
	tests := []struct {
		name       string
		opts       []RootOption
		wantInFile map[string][]string
		notInFile  map[string][]string
	}{
		{
			name: "defaults",
			wantInFile: map[string][]string{
				"etc/passwd":     {"root:x:0:0:", "daemon:x:1:1:", "nobody:x:65534:"},
				"etc/group":      {"\nsudo:x:27:\n", "\nadm:x:4:\n", "\nnogroup:x:65534:\n"},
				"etc/login.defs": {"UID_MIN         1000\n", "ENCRYPT_METHOD  SHA512\n", "USERGROUPS_ENAB yes\n"},
				"etc/shells":     {"\n/bin/bash\n"},
			},
			notInFile: map[string][]string{"etc/group": {"wheel"}},
		},
		{
			name:       "wheel",
			opts:       []RootOption{WithWheel()},
			wantInFile: map[string][]string{"etc/group": {"\nwheel:x:10:\n"}, "etc/gshadow": {"\nwheel:*::\n"}},
			notInFile:  map[string][]string{"etc/group": {"sudo"}},
		},
		{
			name:       "yescrypt",
			opts:       []RootOption{WithEncryptMethod("YESCRYPT")},
			wantInFile: map[string][]string{"etc/login.defs": {"ENCRYPT_METHOD  YESCRYPT\n"}},
		},
		{
			name: "extra user",
			opts: []RootOption{WithUser("alice", 1001)},
			wantInFile: map[string][]string{
				"etc/passwd": {"\nalice:x:1001:1001::/home/alice:/bin/bash\n"},
				"etc/shadow": {"\nalice:!:"},
				"etc/group":  {"\nalice:x:1001:\n"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := NewRoot(t, tt.opts...)
			for f, wants := range tt.wantInFile {
				b, err := os.ReadFile(filepath.Join(root, f))
				if err != nil {
					t.Fatal(err)
				}
				for _, w := range wants {
					if !strings.Contains(string(b), w) {
						t.Errorf("%s lacks %q:\n%s", f, w, b)
					}
				}
			}
			for f, nots := range tt.notInFile {
				b, err := os.ReadFile(filepath.Join(root, f))
				if err != nil {
					t.Fatal(err)
				}
				for _, n := range nots {
					if strings.Contains(string(b), n) {
						t.Errorf("%s contains %q", f, n)
					}
				}
			}
			modes := map[string]os.FileMode{"etc/shadow": 0o640, "etc/gshadow": 0o640, "etc/passwd": 0o644, "bin/bash": 0o755, "bin/sh": 0o755}
			for f, want := range modes {
				fi, err := os.Stat(filepath.Join(root, f))
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode().Perm() != want {
					t.Errorf("%s mode %v, want %v", f, fi.Mode().Perm(), want)
				}
			}
			for _, d := range []string{"etc/skel", "home"} {
				if fi, err := os.Stat(filepath.Join(root, d)); err != nil || !fi.IsDir() {
					t.Errorf("%s is not a directory: %v", d, err)
				}
			}
		})
	}
}

func TestShadowHashAndFileSum(t *testing.T) {
	root := NewRoot(t, WithUser("alice", 1001))
	if got := ShadowHash(t, root, "alice"); got != "!" {
		t.Errorf("ShadowHash(alice) = %q, want %q", got, "!")
	}
	if got := ShadowHash(t, root, "daemon"); got != "*" {
		t.Errorf("ShadowHash(daemon) = %q, want %q", got, "*")
	}
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte("abc"), 0o600); err != nil {
		t.Fatal(err)
	}
	const sumABC = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	if got := FileSum(t, p); got != sumABC {
		t.Errorf("FileSum = %s, want %s", got, sumABC)
	}
}

func TestVerifyPassword(t *testing.T) {
	const (
		sha512 = "$6$serialpass$nt30NR3RO9tbZHnsqZpiyB4dP21n2RmcGPOB3TGuyyKpDvBP7u2dkdpRgTzsreipAEMzC9xIFHy6zJ69ZQS9I1"
		yes    = "$y$j9T$DEY7ByvCDSdATwtQGiEJt.$D.ra7sZrbgFMQuCp3.Ci/eqwFWoO8YkwupSpEm5Ia5C"
	)
	tests := []struct {
		name, hash, password string
		want                 bool
	}{
		{"sha512 right", sha512, "correct horse", true},
		{"sha512 wrong", sha512, "correct horsE", false},
		{"yescrypt right", yes, "correct horse", true},
		{"yescrypt wrong", yes, "correct", false},
		{"locked", "!" + sha512, "correct horse", false},
		{"disabled", "*", "correct horse", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := VerifyPassword(t, tt.hash, tt.password); got != tt.want {
				t.Errorf("VerifyPassword = %v, want %v", got, tt.want)
			}
		})
	}
}
