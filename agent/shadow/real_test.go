package shadow

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/serialpass/serialpass/agent"
	"github.com/serialpass/serialpass/agent/osexec"
	"github.com/serialpass/serialpass/internal/testbed"
)

// These tests run this machine's shadow-utils, always with --root on a
// t.TempDir() sandbox: sandboxRunner refuses any other argv.

// sandboxRunner runs through osexec.Runner only when argv targets root.
type sandboxRunner struct {
	t    *testing.T
	root string
	argv [][]string
}

func (s *sandboxRunner) Run(ctx context.Context, stdin io.Reader, argv ...string) ([]byte, error) {
	s.t.Helper()
	if len(argv) < 3 || argv[1] != "--root" || argv[2] != s.root || !strings.HasPrefix(s.root, os.TempDir()) {
		s.t.Fatalf("refusing to run %q outside the sandbox %s", argv, s.root)
	}
	s.argv = append(s.argv, argv)
	return osexec.Runner{}.Run(ctx, stdin, argv...)
}

// realManager checks the prerequisites and returns a Manager on a fresh
// sandbox root.
func realManager(t *testing.T, opts ...testbed.RootOption) (*Manager, *sandboxRunner, string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("these tests run shadow-utils with --root, which chroots: run them as root (sudo go test ./agent/shadow/)")
	}
	for _, tool := range []string{"useradd", "usermod", "userdel", "chpasswd"} {
		if _, err := exec.LookPath("/usr/sbin/" + tool); err != nil {
			t.Fatalf("%s is missing: install shadow-utils (apt-get install passwd): %v", tool, err)
		}
	}
	root := testbed.NewRoot(t, opts...)
	r := &sandboxRunner{t: t, root: root}
	return New(root, r), r, root
}

func mustLookup(t *testing.T, m *Manager, name string) agent.Account {
	t.Helper()
	a, ok, err := m.Lookup(t.Context(), name)
	if err != nil || !ok {
		t.Fatalf("Lookup(%q) = %v, %v; want the account", name, ok, err)
	}
	return a
}

// otherLines returns the lines of root's etc/file that are not user's.
func otherLines(t *testing.T, root, file, user string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "etc", file))
	if err != nil {
		t.Fatal(err)
	}
	return slices.DeleteFunc(strings.Split(string(b), "\n"), func(l string) bool {
		return strings.HasPrefix(l, user+":")
	})
}

func TestRealLifecycle(t *testing.T) {
	for _, tt := range []struct {
		name   string
		method string
		prefix string
	}{
		{"SHA512", "SHA512", "$6$"},
		{"YESCRYPT", "YESCRYPT", "$y$"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m, r, root := realManager(t, testbed.WithEncryptMethod(tt.method))
			ctx := t.Context()
			passwdBefore, shadowBefore := otherLines(t, root, "passwd", "alice"), otherLines(t, root, "shadow", "alice")

			if err := m.Create(ctx, agent.AccountSpec{Name: "alice", Shell: "/bin/bash", Groups: []string{"sudo"}}); err != nil {
				t.Fatalf("Create: %v", err)
			}
			a := mustLookup(t, m, "alice")
			if a.UID != 1000 || a.Shell != "/bin/bash" || !slices.Equal(a.Groups, []string{"sudo"}) || !a.Locked {
				t.Errorf("after Create, Lookup = %+v; want UID 1000, /bin/bash, [sudo], locked", a)
			}
			if fi, err := os.Stat(filepath.Join(root, "home/alice")); err != nil || !fi.IsDir() {
				t.Errorf("home directory not created under the root: %v", err)
			}

			const pw = "correct horse: battery staple"
			if err := m.SetPassword(ctx, "alice", agent.NewPassword(pw)); err != nil {
				t.Fatalf("SetPassword: %v", err)
			}
			h1 := testbed.ShadowHash(t, root, "alice")
			if !strings.HasPrefix(h1, tt.prefix) {
				t.Errorf("hash %q does not start with %s", h1, tt.prefix)
			}
			if !testbed.VerifyPassword(t, h1, pw) {
				t.Error("crypt(3) does not accept the password")
			}
			if testbed.VerifyPassword(t, h1, pw+"x") {
				t.Error("crypt(3) accepts a wrong password")
			}
			a1 := mustLookup(t, m, "alice")
			if a1.Locked || a1.Fingerprint != fingerprint(h1) {
				t.Errorf("after SetPassword, Lookup = %+v; want unlocked, fingerprint of %q", a1, h1)
			}

			// Same password again: a new salt, so a new fingerprint.
			if err := m.SetPassword(ctx, "alice", agent.NewPassword(pw)); err != nil {
				t.Fatalf("second SetPassword: %v", err)
			}
			h2 := testbed.ShadowHash(t, root, "alice")
			a2 := mustLookup(t, m, "alice")
			if h2 == h1 || a2.Fingerprint == a1.Fingerprint || a2.Fingerprint != fingerprint(h2) {
				t.Errorf("second SetPassword: hash %q -> %q, fingerprint %s -> %s; want both to change consistently", h1, h2, a1.Fingerprint, a2.Fingerprint)
			}
			if !testbed.VerifyPassword(t, h2, pw) {
				t.Error("crypt(3) does not accept the password after the second SetPassword")
			}

			if err := m.AddGroups(ctx, "alice", []string{"adm", "users"}); err != nil {
				t.Fatalf("AddGroups: %v", err)
			}
			if a := mustLookup(t, m, "alice"); !slices.Equal(a.Groups, []string{"adm", "users", "sudo"}) {
				t.Errorf("after AddGroups, groups = %v; want [adm users sudo]", a.Groups)
			}
			if got := testbed.ShadowHash(t, root, "alice"); got != h2 {
				t.Errorf("AddGroups changed the hash: %q -> %q", h2, got)
			}

			for _, c := range r.argv {
				if strings.Contains(strings.Join(c, " "), "horse") {
					t.Errorf("argv %q holds the password", c)
				}
			}
			if got := otherLines(t, root, "passwd", "alice"); !slices.Equal(got, passwdBefore) {
				t.Errorf("other passwd lines changed:\n%q\nwant\n%q", got, passwdBefore)
			}
			if got := otherLines(t, root, "shadow", "alice"); !slices.Equal(got, shadowBefore) {
				t.Errorf("other shadow lines changed:\n%q\nwant\n%q", got, shadowBefore)
			}

			if err := m.Delete(ctx, "alice"); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			if _, ok, err := m.Lookup(ctx, "alice"); ok || err != nil {
				t.Errorf("after Delete, Lookup = %v, %v; want false, nil", ok, err)
			}
			if _, err := os.Stat(filepath.Join(root, "home/alice")); !os.IsNotExist(err) {
				t.Errorf("home directory left behind: %v", err)
			}
		})
	}
}

func TestRealUnlockAndUnexpire(t *testing.T) {
	const pw = "p4ss-w0rd"
	tests := []struct {
		name  string
		spoil []string // usermod arguments that make the account unusable
	}{
		{"locked with usermod -L", []string{"--lock"}},
		{"expired", []string{"--expiredate", "2001-02-03"}},
		{"locked and expired", []string{"--lock", "--expiredate", "1970-01-02"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, r, root := realManager(t)
			ctx := t.Context()
			if err := m.Create(ctx, agent.AccountSpec{Name: "alice", Shell: "/bin/sh"}); err != nil {
				t.Fatal(err)
			}
			if err := m.SetPassword(ctx, "alice", agent.NewPassword("old-password")); err != nil {
				t.Fatal(err)
			}
			argv := append([]string{"usermod", "--root", root}, append(tt.spoil, "alice")...)
			if _, err := r.Run(ctx, nil, argv...); err != nil {
				t.Fatal(err)
			}
			if a := mustLookup(t, m, "alice"); !a.Locked {
				t.Fatalf("after usermod %v, Lookup = %+v; want locked", tt.spoil, a)
			}
			if err := m.SetPassword(ctx, "alice", agent.NewPassword(pw)); err != nil {
				t.Fatalf("SetPassword: %v", err)
			}
			if a := mustLookup(t, m, "alice"); a.Locked {
				t.Errorf("after SetPassword, Lookup = %+v; want usable", a)
			}
			h := testbed.ShadowHash(t, root, "alice")
			if !testbed.VerifyPassword(t, h, pw) {
				t.Errorf("crypt(3) does not accept the new password (hash %q)", h)
			}
			if sh, _, _ := m.shadowEntry("alice"); sh.Expire != -1 {
				t.Errorf("expiry date left at %d, want none", sh.Expire)
			}
		})
	}
}

func TestRealPrecreatedUserAndRefusals(t *testing.T) {
	m, r, root := realManager(t, testbed.WithUser("bob", 1001))
	ctx := t.Context()
	shadow := filepath.Join(root, "etc/shadow")
	before := testbed.FileSum(t, shadow)
	for _, bad := range []string{"x\nroot:owned", "", strings.Repeat("a", 2048)} {
		if err := m.SetPassword(ctx, "bob", agent.NewPassword(bad)); err == nil {
			t.Errorf("SetPassword accepted a bad password of %d bytes", len(bad))
		}
	}
	if err := m.SetPassword(ctx, "Bad Name", agent.NewPassword("fine")); err == nil {
		t.Error("SetPassword accepted a bad user name")
	}
	if got := testbed.FileSum(t, shadow); got != before || len(r.argv) != 0 {
		t.Fatalf("refused input changed etc/shadow or ran %q", r.argv)
	}
	if err := m.SetPassword(ctx, "bob", agent.NewPassword("fine pass")); err != nil {
		t.Fatalf("SetPassword(bob): %v", err)
	}
	if !testbed.VerifyPassword(t, testbed.ShadowHash(t, root, "bob"), "fine pass") {
		t.Error("crypt(3) does not accept bob's password")
	}
	if got := testbed.ShadowHash(t, root, "root"); got != "*" {
		t.Errorf("root's shadow field became %q", got)
	}
}
