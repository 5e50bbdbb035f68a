package shadow

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/serialpass/serialpass/agent"
	"github.com/serialpass/serialpass/internal/testbed"
)

func fingerprint(field string) string {
	sum := sha256.Sum256([]byte(field))
	return hex.EncodeToString(sum[:])
}

// debianAging is what Debian's useradd writes: PASS_MAX_DAYS 99999.
var debianAging = &agent.Aging{LastChange: 20000, MinDays: 0, MaxDays: 99999, WarnDays: 7, Inactive: -1, Expire: -1}

func TestLookup(t *testing.T) {
	const hash = "$6$salt$abcdef"
	tests := []struct {
		name       string
		shadow     string // alice's line; "" removes it
		wantLocked bool
		wantFP     string
		wantAging  *agent.Aging
	}{
		{name: "usable hash", shadow: "alice:" + hash + ":20000:0:99999:7:::", wantFP: fingerprint(hash), wantAging: debianAging},
		{name: "locked by !", shadow: "alice:!" + hash + ":20000:0:99999:7:::", wantLocked: true, wantFP: fingerprint("!" + hash), wantAging: debianAging},
		{name: "never set", shadow: "alice:!:20000:0:99999:7:::", wantLocked: true, wantFP: fingerprint("!"), wantAging: debianAging},
		{name: "disabled", shadow: "alice:*:20000:0:99999:7:::", wantLocked: true, wantFP: fingerprint("*"), wantAging: debianAging},
		{name: "empty field", shadow: "alice::20000:0:99999:7:::", wantLocked: true, wantFP: fingerprint(""), wantAging: debianAging},
		{name: "expired", shadow: "alice:" + hash + ":20000:0:99999:7::20000:", wantLocked: true, wantFP: fingerprint(hash),
			wantAging: &agent.Aging{LastChange: 20000, MinDays: 0, MaxDays: 99999, WarnDays: 7, Inactive: -1, Expire: 20000}},
		{name: "expires later", shadow: "alice:" + hash + ":20000:0:99999:7::20800:", wantFP: fingerprint(hash),
			wantAging: &agent.Aging{LastChange: 20000, MinDays: 0, MaxDays: 99999, WarnDays: 7, Inactive: -1, Expire: 20800}},
		{name: "no aging", shadow: "alice:" + hash + ":20000:0:::::", wantFP: fingerprint(hash),
			wantAging: &agent.Aging{LastChange: 20000, MinDays: 0, MaxDays: -1, WarnDays: -1, Inactive: -1, Expire: -1}},
		{name: "CIS aging, change at next login", shadow: "alice:" + hash + ":0:1:90:14:30::", wantFP: fingerprint(hash),
			wantAging: &agent.Aging{LastChange: 0, MinDays: 1, MaxDays: 90, WarnDays: 14, Inactive: 30, Expire: -1}},
		{name: "no shadow entry", shadow: "", wantLocked: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := testbed.NewRoot(t, testbed.WithUser("alice", 1001))
			setShadow(t, root, "alice", tt.shadow)
			writeFile(t, root, "etc/group", "root:x:0:\nsudo:x:27:bob,alice\nadm:x:4:bob\nusers:x:100:alice\nalice:x:1001:\n")
			m, _ := newTestManager(root, root)
			got, ok, err := m.Lookup(t.Context(), "alice")
			if err != nil || !ok {
				t.Fatalf("Lookup = %v, %v", ok, err)
			}
			want := agent.Account{Name: "alice", UID: 1001, Groups: []string{"sudo", "users"}, Shell: "/bin/bash",
				Locked: tt.wantLocked, Fingerprint: tt.wantFP, Aging: tt.wantAging}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Lookup = %+v, want %+v", got, want)
			}
		})
	}
	t.Run("missing user", func(t *testing.T) {
		root := testbed.NewRoot(t)
		m, _ := newTestManager(root, root)
		if _, ok, err := m.Lookup(t.Context(), "carol"); ok || err != nil {
			t.Errorf("Lookup(carol) = %v, %v; want false, nil", ok, err)
		}
	})
	t.Run("unreadable passwd", func(t *testing.T) {
		root := testbed.NewRoot(t)
		os.Remove(filepath.Join(root, "etc/passwd"))
		m, _ := newTestManager(root, root)
		if _, _, err := m.Lookup(t.Context(), "root"); err == nil {
			t.Error("Lookup without etc/passwd succeeded, want an error")
		}
	})
}

func TestSystem(t *testing.T) {
	tests := []struct {
		name    string
		opts    []testbed.RootOption
		setup   func(t *testing.T, root string)
		want    agent.System
		wantErr string
	}{
		{name: "sandbox defaults", want: agent.System{UIDMin: 1000, UIDMax: 60000, EncryptMethod: "SHA512",
			Groups: []string{"root", "daemon", "bin", "sys", "adm", "tty", "disk", "man", "users", "sudo", "nogroup"},
			Shells: []string{"/bin/sh", "/bin/bash"}}},
		{name: "wheel and yescrypt", opts: []testbed.RootOption{testbed.WithWheel(), testbed.WithEncryptMethod("YESCRYPT")},
			want: agent.System{UIDMin: 1000, UIDMax: 60000, EncryptMethod: "YESCRYPT",
				Groups: []string{"root", "daemon", "bin", "sys", "adm", "tty", "disk", "man", "users", "wheel", "nogroup"},
				Shells: []string{"/bin/sh", "/bin/bash"}}},
		{name: "no login.defs, no etc/shells, links", setup: func(t *testing.T, root string) {
			os.Remove(filepath.Join(root, "etc/login.defs"))
			os.Remove(filepath.Join(root, "etc/shells"))
			os.Remove(filepath.Join(root, "bin/sh"))
			// An absolute link would point at the host: not in the root.
			if err := os.Symlink("/bin/bash", filepath.Join(root, "bin/sh")); err != nil {
				t.Fatal(err)
			}
			writeFile(t, root, "etc/group", "root:x:0:\n")
		}, want: agent.System{UIDMin: 1000, UIDMax: 60000, Groups: []string{"root"}, Shells: []string{"/bin/bash"}}},
		{name: "shells: relative links followed, directories and missing files dropped", setup: func(t *testing.T, root string) {
			if err := os.MkdirAll(filepath.Join(root, "usr/bin"), 0o755); err != nil {
				t.Fatal(err)
			}
			writeFile(t, root, "usr/bin/zsh", "")
			if err := os.Symlink("../usr/bin/zsh", filepath.Join(root, "bin/zsh")); err != nil {
				t.Fatal(err)
			}
			writeFile(t, root, "etc/shells", "# shells\n/bin/zsh\n/usr/bin\n/bin/fish\nbin/bash\n/../../bin/sh\n")
			writeFile(t, root, "etc/login.defs", "UID_MIN 500\nUID_MAX 29999\n")
			writeFile(t, root, "etc/group", "root:x:0:\n")
		}, want: agent.System{UIDMin: 500, UIDMax: 29999, Groups: []string{"root"}, Shells: []string{"/bin/zsh"}}},
		{name: "bad UID_MIN", setup: func(t *testing.T, root string) { writeFile(t, root, "etc/login.defs", "UID_MIN lots\n") },
			wantErr: `UID_MIN "lots"`},
		{name: "bad UID_MAX", setup: func(t *testing.T, root string) { writeFile(t, root, "etc/login.defs", "UID_MAX -1\n") },
			wantErr: `UID_MAX "-1"`},
		{name: "no etc/group", setup: func(t *testing.T, root string) { os.Remove(filepath.Join(root, "etc/group")) },
			wantErr: "reading etc/group"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := testbed.NewRoot(t, tt.opts...)
			if tt.setup != nil {
				tt.setup(t, root)
			}
			m, _ := newTestManager(root, root)
			got, err := m.System(t.Context())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("System error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("System = %+v,\nwant     %+v", got, tt.want)
			}
		})
	}
}
