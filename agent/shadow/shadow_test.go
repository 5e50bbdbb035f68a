package shadow

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/serialpass/serialpass/agent"
	"github.com/serialpass/serialpass/internal/testbed"
)

// call is one recorded Run.
type call struct {
	argv  []string
	stdin string
}

// fakeRunner records calls and runs nothing.
type fakeRunner struct {
	calls []call
	fail  map[string]error // by program name
}

func (f *fakeRunner) Run(_ context.Context, stdin io.Reader, argv ...string) ([]byte, error) {
	c := call{argv: argv}
	if stdin != nil {
		b, err := io.ReadAll(stdin)
		if err != nil {
			return nil, err
		}
		c.stdin = string(b)
	}
	f.calls = append(f.calls, c)
	return nil, f.fail[argv[0]]
}

// day is 2026-12-03 in shadow's days since the epoch.
const day = 20790

var fixedNow = time.Unix(day*86400+3600, 0)

// newTestManager returns a Manager for root whose files are read from
// files, with a fake runner and a fixed clock.
func newTestManager(root, files string) (*Manager, *fakeRunner) {
	f := &fakeRunner{}
	m := New(root, f)
	m.files = files
	m.now = func() time.Time { return fixedNow }
	return m, f
}

// setShadow replaces user's line in root's etc/shadow.
func setShadow(t *testing.T, root, user, line string) {
	t.Helper()
	p := filepath.Join(root, "etc", "shadow")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if !strings.HasPrefix(l, user+":") {
			out = append(out, l)
		}
	}
	if line != "" {
		out = append(out, line)
	}
	if err := os.WriteFile(p, []byte(strings.Join(out, "\n")+"\n"), 0o640); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, root, rel, data string) {
	t.Helper()
	p := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

const pw = "s3cret pass:word"

func TestSetPasswordArgv(t *testing.T) {
	tests := []struct {
		name  string
		slash bool // manage "/" (files still read from the sandbox)
		opts  []testbed.RootOption
		setup func(t *testing.T, root string)
		// want is argv with R standing for the sandbox root.
		want []string
	}{
		{name: "running system: PAM decides", slash: true, want: []string{"chpasswd"}},
		{name: "sandbox without PAM: login.defs method", want: []string{"chpasswd", "--root", "R", "-c", "SHA512"}},
		{name: "sandbox yescrypt", opts: []testbed.RootOption{testbed.WithEncryptMethod("yescrypt")},
			want: []string{"chpasswd", "--root", "R", "-c", "YESCRYPT"}},
		{name: "sandbox with its own PAM", want: []string{"chpasswd", "--root", "R"},
			setup: func(t *testing.T, root string) {
				writeFile(t, root, "etc/pam.d/chpasswd", "@include common-password\n")
			}},
		{name: "sandbox without ENCRYPT_METHOD", want: []string{"chpasswd", "--root", "R", "-c", "SHA512"},
			setup: func(t *testing.T, root string) { writeFile(t, root, "etc/login.defs", "UID_MIN 1000\n") }},
		{name: "sandbox without login.defs", want: []string{"chpasswd", "--root", "R", "-c", "SHA512"},
			setup: func(t *testing.T, root string) { os.Remove(filepath.Join(root, "etc/login.defs")) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := testbed.NewRoot(t, append(tt.opts, testbed.WithUser("alice", 1001))...)
			if tt.setup != nil {
				tt.setup(t, root)
			}
			target := root
			if tt.slash {
				target = "/"
			}
			m, f := newTestManager(target, root)
			if err := m.SetPassword(t.Context(), "alice", agent.NewPassword(pw)); err != nil {
				t.Fatalf("SetPassword: %v", err)
			}
			if len(f.calls) != 1 {
				t.Fatalf("ran %d programs, want 1: %v", len(f.calls), f.calls)
			}
			want := slices.Clone(tt.want)
			if i := slices.Index(want, "R"); i >= 0 {
				want[i] = root
			}
			if got := f.calls[0].argv; !reflect.DeepEqual(got, want) {
				t.Errorf("argv = %q, want %q", got, want)
			}
			for _, a := range f.calls[0].argv {
				if strings.Contains(a, "s3cret") {
					t.Errorf("argv %q holds the password", f.calls[0].argv)
				}
			}
			if got := f.calls[0].stdin; got != "alice:"+pw+"\n" {
				t.Errorf("stdin = %q, want %q", got, "alice:"+pw+"\n")
			}
		})
	}
}

func TestSetPasswordRefused(t *testing.T) {
	tests := []struct {
		name    string
		user    string
		pw      string
		setup   func(t *testing.T, root string)
		wantErr string
	}{
		{name: "newline", user: "alice", pw: "a\nroot:x", wantErr: "newline"},
		{name: "carriage return", user: "alice", pw: "a\rb", wantErr: "carriage return"},
		{name: "NUL", user: "alice", pw: "a\x00b", wantErr: "NUL"},
		{name: "empty", user: "alice", pw: "", wantErr: "empty"},
		{name: "2 KB", user: "alice", pw: strings.Repeat("p", 2048), wantErr: "more than"},
		{name: "invalid UTF-8", user: "alice", pw: "\xff\xfe", wantErr: "UTF-8"},
		{name: "colon in name", user: "alice:x", pw: pw, wantErr: "not a valid name"},
		{name: "newline in name", user: "alice\nroot", pw: pw, wantErr: "not a valid name"},
		{name: "no such user", user: "carol", pw: pw, wantErr: "no entry in etc/shadow"},
		{name: "weak method", user: "alice", pw: pw, wantErr: `ENCRYPT_METHOD "MD5"`,
			setup: func(t *testing.T, root string) { writeFile(t, root, "etc/login.defs", "ENCRYPT_METHOD MD5\n") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := testbed.NewRoot(t, testbed.WithUser("alice", 1001))
			if tt.setup != nil {
				tt.setup(t, root)
			}
			m, f := newTestManager(root, root)
			err := m.SetPassword(t.Context(), tt.user, agent.NewPassword(tt.pw))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("SetPassword error = %v, want one containing %q", err, tt.wantErr)
			}
			if len(tt.pw) >= 3 && strings.Contains(err.Error(), tt.pw) {
				t.Errorf("error %q holds the password", err)
			}
			if len(f.calls) != 0 {
				t.Errorf("ran %v, want nothing run", f.calls)
			}
		})
	}
}

func TestSetPasswordExpiry(t *testing.T) {
	tests := []struct {
		name    string
		expire  string
		unexpir bool
	}{
		{name: "no expiry date", expire: ""},
		{name: "expires tomorrow", expire: "20791"},
		{name: "expires today", expire: "20790", unexpir: true},
		{name: "expired long ago", expire: "1", unexpir: true},
		{name: "day zero", expire: "0", unexpir: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := testbed.NewRoot(t, testbed.WithUser("alice", 1001))
			setShadow(t, root, "alice", "alice:!:20000:0:99999:7::"+tt.expire+":")
			m, f := newTestManager(root, root)
			if err := m.SetPassword(t.Context(), "alice", agent.NewPassword(pw)); err != nil {
				t.Fatalf("SetPassword: %v", err)
			}
			want := [][]string{{"chpasswd", "--root", root, "-c", "SHA512"}}
			if tt.unexpir {
				want = append(want, []string{"usermod", "--root", root, "--expiredate", "", "alice"})
			}
			var got [][]string
			for _, c := range f.calls {
				got = append(got, c.argv)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("ran %q, want %q", got, want)
			}
		})
	}
}

func TestRunnerErrorsWrapped(t *testing.T) {
	boom := errors.New("boom")
	root := testbed.NewRoot(t, testbed.WithUser("alice", 1001))
	setShadow(t, root, "alice", "alice:!:20000:0:99999:7::1:")
	tests := []struct {
		name    string
		fail    string
		do      func(m *Manager) error
		wantErr string
	}{
		{"useradd", "useradd", func(m *Manager) error {
			return m.Create(t.Context(), agent.AccountSpec{Name: "bob", Shell: "/bin/sh"})
		}, `creating user "bob"`},
		{"chpasswd", "chpasswd", func(m *Manager) error {
			return m.SetPassword(t.Context(), "alice", agent.NewPassword(pw))
		}, `setting password of user "alice"`},
		{"usermod expiry", "usermod", func(m *Manager) error {
			return m.SetPassword(t.Context(), "alice", agent.NewPassword(pw))
		}, `removing the expiry date of user "alice"`},
		{"usermod groups", "usermod", func(m *Manager) error {
			return m.AddGroups(t.Context(), "alice", []string{"adm"})
		}, `adding user "alice" to groups adm`},
		{"userdel", "userdel", func(m *Manager) error { return m.Delete(t.Context(), "alice") }, `deleting user "alice"`},
		{"chage", "chage", func(m *Manager) error { return m.RemoveAging(t.Context(), "alice") }, `removing password aging of user "alice"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, f := newTestManager(root, root)
			f.fail = map[string]error{tt.fail: boom}
			err := tt.do(m)
			if !errors.Is(err, boom) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error = %v, want %q wrapping boom", err, tt.wantErr)
			}
		})
	}
}

func TestCommandsArgv(t *testing.T) {
	sandbox := testbed.NewRoot(t, testbed.WithUser("alice", 1001))
	tests := []struct {
		name    string
		root    string
		do      func(m *Manager) error
		want    [][]string // R stands for the sandbox root
		wantErr string
	}{
		{name: "create in sandbox", root: sandbox,
			do: func(m *Manager) error {
				return m.Create(t.Context(), agent.AccountSpec{Name: "bob", Shell: "/bin/bash", Groups: []string{"sudo", "adm"}})
			},
			want: [][]string{{"useradd", "--root", "R", "--create-home", "--shell", "/bin/bash", "--key", "PASS_MAX_DAYS=-1", "--key", "PASS_MIN_DAYS=0",
				"--inactive", "-1", "--expiredate", "", "--groups", "sudo,adm", "bob"}}},
		{name: "create on / without groups", root: "/",
			do: func(m *Manager) error { return m.Create(t.Context(), agent.AccountSpec{Name: "bob", Shell: "/bin/sh"}) },
			want: [][]string{{"useradd", "--create-home", "--shell", "/bin/sh", "--key", "PASS_MAX_DAYS=-1", "--key", "PASS_MIN_DAYS=0",
				"--inactive", "-1", "--expiredate", "", "bob"}}},
		{name: "create refuses a bad group", root: sandbox,
			do: func(m *Manager) error {
				return m.Create(t.Context(), agent.AccountSpec{Name: "bob", Shell: "/bin/sh", Groups: []string{"sudo,root"}})
			},
			wantErr: "group name"},
		{name: "create refuses a relative shell", root: sandbox,
			do:      func(m *Manager) error { return m.Create(t.Context(), agent.AccountSpec{Name: "bob", Shell: "bash"}) },
			wantErr: "not an absolute path"},
		{name: "create refuses a bad name", root: sandbox,
			do:      func(m *Manager) error { return m.Create(t.Context(), agent.AccountSpec{Name: "-o", Shell: "/bin/sh"}) },
			wantErr: "not a valid name"},
		{name: "add groups", root: sandbox,
			do:   func(m *Manager) error { return m.AddGroups(t.Context(), "alice", []string{"sudo", "users"}) },
			want: [][]string{{"usermod", "--root", "R", "--append", "--groups", "sudo,users", "alice"}}},
		{name: "add no groups", root: sandbox,
			do: func(m *Manager) error { return m.AddGroups(t.Context(), "alice", nil) }},
		{name: "delete", root: sandbox,
			do:   func(m *Manager) error { return m.Delete(t.Context(), "alice") },
			want: [][]string{{"userdel", "--root", "R", "--remove", "alice"}}},
		{name: "delete on /", root: "/",
			do:   func(m *Manager) error { return m.Delete(t.Context(), "alice") },
			want: [][]string{{"userdel", "--remove", "alice"}}},
		{name: "delete refuses a bad name", root: sandbox,
			do:      func(m *Manager) error { return m.Delete(t.Context(), "Bad Name") },
			wantErr: "not a valid name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, f := newTestManager(tt.root, sandbox)
			err := tt.do(m)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error = %v, want one containing %q", err, tt.wantErr)
				}
				if len(f.calls) != 0 {
					t.Errorf("ran %v, want nothing", f.calls)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got [][]string
			for _, c := range f.calls {
				var argv []string
				for _, a := range c.argv {
					if a == sandbox {
						a = "R"
					}
					argv = append(argv, a)
				}
				got = append(got, argv)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ran %q, want %q", got, tt.want)
			}
		})
	}
}
