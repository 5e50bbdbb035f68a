package shadow

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/serialpass/serialpass/agent"
	"github.com/serialpass/serialpass/agent/secrets"
	"github.com/serialpass/serialpass/internal/testbed"
)

// cisLoginDefs is login.defs as CIS benchmarks harden it: passwords expire
// after 90 days, and etc/default/useradd disables accounts 30 days after.
const cisLoginDefs = `PASS_MAX_DAYS   90
PASS_MIN_DAYS   1
PASS_WARN_AGE   14
UID_MIN         1000
UID_MAX         60000
GID_MIN         1000
GID_MAX         60000
USERGROUPS_ENAB yes
ENCRYPT_METHOD  SHA512
`

// cisManager is realManager on a sandbox root with CIS aging defaults.
func cisManager(t *testing.T) (*Manager, *sandboxRunner, string) {
	t.Helper()
	if _, err := exec.LookPath("/usr/bin/chage"); err != nil {
		t.Fatalf("chage is missing: install shadow-utils (apt-get install passwd): %v", err)
	}
	m, r, root := realManager(t)
	writeFile(t, root, "etc/login.defs", cisLoginDefs)
	writeFile(t, root, "etc/default/useradd", "SHELL=/bin/sh\nINACTIVE=30\nEXPIRE=2030-01-01\n")
	return m, r, root
}

func mustAging(t *testing.T, m *Manager, name string) agent.Aging {
	t.Helper()
	a := mustLookup(t, m, name)
	if a.Aging == nil {
		t.Fatalf("Lookup(%q) reports no aging: %+v", name, a)
	}
	return *a.Aging
}

// TestRealCreateWithoutAging: useradd as Create runs it ignores the root's
// aging defaults; a plain useradd in the same root does not.
func TestRealCreateWithoutAging(t *testing.T) {
	m, r, root := cisManager(t)
	ctx := t.Context()
	// Control: the root really is hardened.
	if _, err := r.Run(ctx, nil, "useradd", "--root", root, "control"); err != nil {
		t.Fatal(err)
	}
	if g := mustAging(t, m, "control"); g.MaxDays != 90 || g.Inactive != 30 || g.Expire < 0 {
		t.Fatalf("plain useradd in the CIS root gave %+v; want max 90, inactive 30, an expiry date", g)
	}

	if err := m.Create(ctx, agent.AccountSpec{Name: "alice", Shell: "/bin/bash", Groups: []string{"sudo"}}); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if err := m.SetPassword(ctx, "alice", agent.NewPassword("correct horse")); err != nil {
		t.Fatalf("SetPassword: %v", err)
	}
	g := mustAging(t, m, "alice")
	if p := g.Problems(); len(p) != 0 || g.MinDays != 0 || g.MaxDays != -1 || g.Inactive != -1 || g.Expire != -1 || g.LastChange <= 0 {
		t.Errorf("after Create and SetPassword, aging = %+v (%q); want none", g, p)
	}
}

// TestRealRemoveAging spoils the account's aging with chage and usermod,
// then checks that RemoveAging takes it all off, and nothing else.
func TestRealRemoveAging(t *testing.T) {
	tests := []struct {
		name  string
		spoil [][]string // commands, the root and the user appended
	}{
		{"CIS aging", [][]string{{"chage", "--mindays", "1", "--maxdays", "90", "--warndays", "14", "--inactive", "30"}}},
		{"change at next login", [][]string{{"chage", "--lastday", "0"}}},
		{"expiry date ahead", [][]string{{"chage", "--expiredate", "2030-01-01"}}},
		{"expired account", [][]string{{"usermod", "--expiredate", "2001-02-03"}}},
		{"all at once", [][]string{{"chage", "--lastday", "0", "--mindays", "7", "--maxdays", "0", "--inactive", "0", "--expiredate", "1970-01-02"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, r, root := cisManager(t)
			ctx := t.Context()
			if err := m.Create(ctx, agent.AccountSpec{Name: "alice", Shell: "/bin/sh"}); err != nil {
				t.Fatal(err)
			}
			if err := m.SetPassword(ctx, "alice", agent.NewPassword("p4ss-w0rd")); err != nil {
				t.Fatal(err)
			}
			for _, c := range tt.spoil {
				argv := append(append([]string{c[0], "--root", root}, c[1:]...), "alice")
				if _, err := r.Run(ctx, nil, argv...); err != nil {
					t.Fatal(err)
				}
			}
			if p := mustAging(t, m, "alice").Problems(); len(p) == 0 {
				t.Fatalf("spoiling with %q left no aging: %+v", tt.spoil, mustAging(t, m, "alice"))
			}
			hash, others := testbed.ShadowHash(t, root, "alice"), otherLines(t, root, "shadow", "alice")

			if err := m.RemoveAging(ctx, "alice"); err != nil {
				t.Fatalf("RemoveAging: %v", err)
			}
			a := mustLookup(t, m, "alice")
			if p := a.Aging.Problems(); len(p) != 0 || a.Locked {
				t.Errorf("after RemoveAging, aging = %+v (%q), locked = %v; want none, usable", *a.Aging, p, a.Locked)
			}
			if got := testbed.ShadowHash(t, root, "alice"); got != hash {
				t.Errorf("RemoveAging changed the password field: %q -> %q", hash, got)
			}
			if got := otherLines(t, root, "shadow", "alice"); !slices.Equal(got, others) {
				t.Errorf("other shadow lines changed:\n%q\nwant\n%q", got, others)
			}
		})
	}
}

type tagsStub map[string]string

func (s tagsStub) Tags(context.Context, string) (map[string]string, error) { return s, nil }

type reporterStub struct{}

func (reporterStub) Report(context.Context, string, map[string]string) error { return nil }

// TestRealPassRemovesAging: a pull-mode pass over real shadow-utils in a
// CIS-hardened root creates the user without aging, and a later pass takes
// off aging added by hand without setting the password again.
func TestRealPassRemovesAging(t *testing.T) {
	m, r, root := cisManager(t)
	ctx := t.Context()
	store := secrets.NewMemory()
	if _, err := store.CreateSecret(ctx, agent.NewSecret{Name: "fleet/console", Value: agent.NewPassword("Console-Passw0rd")}); err != nil {
		t.Fatal(err)
	}
	a := &agent.Agent{
		Config: agent.DefaultConfig(), Identity: agent.Identity{InstanceID: "i-0123456789abcdef0"},
		Tags: tagsStub{"serialpass:secret": "fleet/console"}, Secrets: store, Accounts: m,
		Reporter: reporterStub{}, State: agent.NewFileState(root), Clock: agent.SystemClock{}, Log: discardLog(),
	}
	if res := a.Pass(ctx); !res.OK() || res.Status != agent.StatusReady {
		t.Fatalf("first pass = %+v", res)
	}
	if p := mustAging(t, m, "ec2-serial").Problems(); len(p) != 0 {
		t.Fatalf("after the first pass the user has aging: %q", p)
	}
	if slices.ContainsFunc(r.argv, func(c []string) bool { return c[0] == "chage" }) {
		t.Errorf("the first pass ran chage (%q): useradd should have created the user without aging", r.argv)
	}

	if _, err := r.Run(ctx, nil, "chage", "--root", root, "--lastday", "0", "--maxdays", "90", "--inactive", "30", "ec2-serial"); err != nil {
		t.Fatal(err)
	}
	hash, ran := testbed.ShadowHash(t, root, "ec2-serial"), len(r.argv)
	res := a.Pass(ctx)
	if !res.OK() || res.Status != agent.StatusReady || !res.Changed {
		t.Fatalf("second pass = %+v, want ready and changed", res)
	}
	if got := r.argv[ran:]; len(got) != 1 || got[0][0] != "chage" {
		t.Errorf("second pass ran %q, want chage alone", got)
	}
	if p := mustAging(t, m, "ec2-serial").Problems(); len(p) != 0 || testbed.ShadowHash(t, root, "ec2-serial") != hash {
		t.Errorf("after the second pass: aging %q, hash changed %v; want none, unchanged", p, testbed.ShadowHash(t, root, "ec2-serial") != hash)
	}

	before, ran := testbed.FileSum(t, filepath.Join(root, "etc/shadow")), len(r.argv)
	if res := a.Pass(ctx); !res.OK() || res.Changed || len(r.argv) != ran {
		t.Errorf("third pass = %+v, ran %q; want ready, nothing run", res, r.argv[ran:])
	}
	if testbed.FileSum(t, filepath.Join(root, "etc/shadow")) != before {
		t.Error("a steady pass changed etc/shadow")
	}
	if _, err := os.Stat(filepath.Join(root, "home/ec2-serial")); err != nil {
		t.Errorf("home directory: %v", err)
	}
}

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
