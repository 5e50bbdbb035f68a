package console

import (
	"context"
	"maps"
	"path/filepath"
	"strings"
	"testing"
)

func TestConsoleOnlyDebianRoundTrip(t *testing.T) {
	ctx := context.Background()
	root := debianRoot(t)
	before := snapshot(t, root)
	run := &fakeRunner{}
	c := New(root, run)
	o := Options{Consoles: []string{"tty1"}}

	warnings, err := c.ApplyConsoleOnly(ctx, "ec2-serial", o)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings = %q", warnings)
	}
	access := readFile(t, filepath.Join(root, AccessConfPath))
	wantAccess := beginMarker + ": the serial-console user logs in on the console only; managed by serialpass\n" +
		"+:ec2-serial:ttyS0 tty1\n-:ec2-serial:ALL\n" + endMarker + "\n"
	if !strings.HasPrefix(access, wantAccess) || strings.TrimPrefix(access, wantAccess) != before[AccessConfPath] {
		t.Errorf("access.conf does not start with our block followed by the original:\n%s", access)
	}
	login := readFile(t, filepath.Join(root, PAMLoginPath))
	wantPAM := "# account  required       pam_access.so\n" + beginMarker +
		": pam_access keeps the serial-console user on the console; managed by serialpass\n" +
		pamAccessLine + "\n" + endMarker + "\n\n# Sets up user limits"
	if !strings.Contains(login, wantPAM) {
		t.Errorf("pam.d/login lacks our block after Debian's commented line:\n%s", login)
	}
	if got := readFile(t, filepath.Join(root, SSHDropInPath)); !strings.Contains(got, "\nDenyUsers ec2-serial\n") {
		t.Errorf("sshd drop-in = %q", got)
	}
	wantCheck := "sshd -t -f " + filepath.Join(root, SSHDConfigPath)
	if len(run.calls) != 1 || run.calls[0] != wantCheck {
		t.Errorf("runs = %q, want only %q (no reload under a root)", run.calls, wantCheck)
	}

	t.Run("idempotent", func(t *testing.T) {
		first := snapshot(t, root)
		if _, err := c.ApplyConsoleOnly(ctx, "ec2-serial", o); err != nil {
			t.Fatal(err)
		}
		if again := snapshot(t, root); !maps.Equal(first, again) {
			t.Errorf("second apply changed files")
		}
		if n := strings.Count(readFile(t, filepath.Join(root, PAMLoginPath)), beginMarker); n != 1 {
			t.Errorf("%d blocks in pam.d/login", n)
		}
	})
	t.Run("other user replaces the block in place", func(t *testing.T) {
		if _, err := c.ApplyConsoleOnly(ctx, "breakglass", Options{}); err != nil {
			t.Fatal(err)
		}
		access := readFile(t, filepath.Join(root, AccessConfPath))
		if strings.Contains(access, "ec2-serial") || !strings.Contains(access, "+:breakglass:ttyS0\n") {
			t.Errorf("access.conf:\n%s", access)
		}
		if strings.Count(access, beginMarker) != 1 {
			t.Errorf("more than one block")
		}
	})
	t.Run("remove restores every byte", func(t *testing.T) {
		if _, err := c.RemoveConsoleOnly(ctx); err != nil {
			t.Fatal(err)
		}
		after := snapshot(t, root)
		if !maps.Equal(before, after) {
			for k, v := range after {
				if before[k] != v {
					t.Errorf("%s differs:\n%s", k, v)
				}
			}
			for k := range before {
				if _, ok := after[k]; !ok {
					t.Errorf("%s is gone", k)
				}
			}
		}
	})
}

// rhelLogin is RHEL 9's /etc/pam.d/login (util-linux).
const rhelLogin = `#%PAM-1.0
auth       substack     system-auth
auth       include      postlogin
account    required     pam_nologin.so
account    include      system-auth
password   include      system-auth
# pam_selinux.so close should be the first session rule
session    required     pam_selinux.so close
session    required     pam_loginuid.so
session    optional     pam_console.so
# pam_selinux.so open should only be followed by sessions to be executed in the user context
session    required     pam_selinux.so open
session    required     pam_namespace.so
session    optional     pam_keyinit.so force revoke
session    include      system-auth
session    include      postlogin
-session   optional     pam_ck_connector.so
`

func TestPAMLoginPlacement(t *testing.T) {
	tests := []struct {
		name  string
		login string
		want  string // what must follow our END line, or "" for no block
	}{
		{"rhel: before the first account line", rhelLogin, endMarker + "\naccount    required     pam_nologin.so\n"},
		{"admin enabled it already", "auth required pam_unix.so\naccount required pam_access.so\n", ""},
		{"admin's line names access.conf", "account  requisite  /lib/security/pam_access.so accessfile=/etc/security/access.conf\n", ""},
		{"admin's bracketed line that denies", "account [success=ok ignore=ignore default=bad] pam_access.so\n", ""},
		{"admin's optional line enforces nothing", "account optional pam_access.so\n", endMarker + "\naccount optional pam_access.so\n"},
		{"admin's line on another table, access.conf has no rules", "account required pam_access.so accessfile=/etc/security/login-access.conf\n",
			endMarker + "\naccount required pam_access.so accessfile="},
		{"no account line: appended", "auth required pam_unix.so", "pam_unix.so\n" + beginMarker},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			p := filepath.Join(root, PAMLoginPath)
			writeFile(t, p, tt.login)
			c := New(root, &fakeRunner{})
			if _, err := c.applyPAMLogin("ec2-serial", Options{}); err != nil {
				t.Fatal(err)
			}
			got := readFile(t, p)
			if tt.want == "" {
				if got != tt.login {
					t.Errorf("changed:\n%s", got)
				}
				return
			}
			if !strings.Contains(got, tt.want) || !strings.Contains(got, pamAccessLine) {
				t.Errorf("got:\n%s", got)
			}
			if _, err := c.removeBlock(PAMLoginPath); err != nil {
				t.Fatal(err)
			}
			if back := readFile(t, p); back != tt.login {
				t.Errorf("after remove:\n%q\nwant\n%q", back, tt.login)
			}
		})
	}
}

// TestPAMLoginOtherAccessFile: an admin's pam_access line on another table
// does not read our block. Ours is added only where it cannot start
// applying someone else's rules (and lock them out); else nothing changes
// and the error says what to add to their table.
func TestPAMLoginOtherAccessFile(t *testing.T) {
	const custom = "account required pam_access.so accessfile=/etc/security/login-access.conf\n"
	tests := []struct {
		name    string
		login   string
		files   map[string]string
		wantErr string // "" means our block is added
	}{
		{name: "access.conf holds only comments", login: custom,
			files: map[string]string{AccessConfPath: "# Login access control table.\n#-:ALL EXCEPT root:tty1\n\n"}},
		{name: "access.conf has a rule of its own", login: custom,
			files:   map[string]string{AccessConfPath: "# table\n-:ALL EXCEPT (wheel):LOCAL\n"},
			wantErr: `reads /etc/security/login-access.conf, not our rules; enabling it for /etc/security/access.conf would also apply the rules in /etc/security/access.conf: put "+:ec2-serial:ttyS0" and "-:ec2-serial:ALL" first`},
		{name: "access.d has a rule", login: custom,
			files:   map[string]string{AccessConfPath: "# table\n", "etc/security/access.d/10-ops.conf": "+:ops:ALL\n-:ALL:ALL\n"},
			wantErr: "would also apply the rules in /etc/security/access.d/10-ops.conf"},
		{name: "another field separator", login: "account required pam_access.so fieldsep=|\n",
			files:   map[string]string{AccessConfPath: "-|ALL EXCEPT root|tty1\n"},
			wantErr: "reads /etc/security/access.conf with fieldsep=|"},
		{name: "optional line on another table, rules in access.conf", login: "account optional pam_access.so accessfile=/etc/x.conf\n",
			files: map[string]string{AccessConfPath: "-:ALL EXCEPT root:tty1\n"}, wantErr: "reads /etc/x.conf"},
		{name: "optional line on another table, no rules", login: "account optional pam_access.so accessfile=/etc/x.conf\n",
			files: map[string]string{AccessConfPath: "# nothing\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			p := filepath.Join(root, PAMLoginPath)
			writeFile(t, p, tt.login)
			for f, data := range tt.files {
				writeFile(t, filepath.Join(root, f), data)
			}
			before := snapshot(t, root)
			c := New(root, &fakeRunner{})
			_, err := c.ApplyConsoleOnly(context.Background(), "ec2-serial", Options{})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one with %q", err, tt.wantErr)
				}
				if got := readFile(t, p); got != tt.login {
					t.Errorf("login changed:\n%s", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := readFile(t, p)
			if !strings.HasPrefix(got, beginMarker) || !strings.HasSuffix(got, pamAccessLine+"\n"+endMarker+"\n"+tt.login) {
				t.Errorf("want our block before the admin's line:\n%s", got)
			}
			if s, err := c.ConsoleOnlyState(); err != nil || !s.PAMAccess {
				t.Errorf("state %+v, err %v", s, err)
			}
			if _, err := c.RemoveConsoleOnly(context.Background()); err != nil {
				t.Fatal(err)
			}
			if after := snapshot(t, root); !maps.Equal(before, after) {
				t.Errorf("removal left changes")
			}
		})
	}
}

func TestApplyConsoleOnlyOffRemoves(t *testing.T) {
	ctx := context.Background()
	root := debianRoot(t)
	writeFile(t, filepath.Join(root, "proc-cmdline"), "")
	before := snapshot(t, root)
	c := New(root, &fakeRunner{})
	if _, err := c.ApplyConsoleOnly(ctx, "ec2-serial", Options{}); err != nil {
		t.Fatal(err)
	}
	off := false
	writeFile(t, filepath.Join(root, GrubDefaultPath), "GRUB_CMDLINE_LINUX=\"console=ttyS0,115200\"\n")
	before[filepath.FromSlash(GrubDefaultPath)] = readFile(t, filepath.Join(root, GrubDefaultPath))
	if _, err := c.Apply(ctx, "ec2-serial", Options{ConsoleOnly: &off}); err != nil {
		t.Fatal(err)
	}
	if after := snapshot(t, root); !maps.Equal(before, after) {
		t.Errorf("console_only off left changes: %v", after)
	}
}

func TestConsoleOnlyState(t *testing.T) {
	root := debianRoot(t)
	c := New(root, &fakeRunner{})
	s, err := c.ConsoleOnlyState()
	if err != nil {
		t.Fatal(err)
	}
	if s.AccessBlock || s.PAMAccess || s.SSHDropIn || !s.SSHIncluded || !s.SSHInstalled {
		t.Errorf("before: %+v", s)
	}
	if _, err := c.ApplyConsoleOnly(context.Background(), "ec2-serial", Options{}); err != nil {
		t.Fatal(err)
	}
	s, err = c.ConsoleOnlyState()
	if err != nil {
		t.Fatal(err)
	}
	if !s.AccessBlock || s.AccessUser != "ec2-serial" || !s.PAMAccess || !s.SSHDropIn {
		t.Errorf("after: %+v", s)
	}
}
