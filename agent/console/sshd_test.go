package console

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const debianInclude = "Include /etc/ssh/sshd_config.d/*.conf\n"

func TestApplySSHD(t *testing.T) {
	ctx := context.Background()
	privsep := ranWith("/usr/sbin/sshd", fmt.Errorf("%w: Missing privilege separation directory: /run/sshd", exitError(255)))
	tests := []struct {
		name        string
		live        bool
		oldDropIn   string
		fail        map[string]error
		wantErr     string // "" for none
		wantWarning string
		wantCalls   []string
		wantDropIn  string // "" means absent
	}{
		{
			name: "live, sshd running: checked and reloaded", live: true,
			wantCalls:  []string{"/usr/sbin/sshd -t", "systemctl is-active --quiet ssh.service", "systemctl reload ssh.service"},
			wantDropIn: "DenyUsers ec2-serial",
		},
		{
			name: "live, sshd stopped: no reload", live: true,
			fail:       map[string]error{"systemctl is-active": errExit1},
			wantCalls:  []string{"/usr/sbin/sshd -t", "systemctl is-active --quiet ssh.service", "systemctl is-active --quiet sshd.service"},
			wantDropIn: "DenyUsers ec2-serial",
		},
		{
			name: "live, check fails: new drop-in taken out again", live: true,
			fail:      map[string]error{"/usr/sbin/sshd -t": errExit1},
			wantErr:   "checking the sshd configuration",
			wantCalls: []string{"/usr/sbin/sshd -t"},
		},
		{
			name: "live, check fails: old drop-in put back", live: true,
			oldDropIn: "DenyUsers someone-else\n",
			fail:      map[string]error{"/usr/sbin/sshd -t": errExit1},
			wantErr:   "checking the sshd configuration", wantCalls: []string{"/usr/sbin/sshd -t"},
			wantDropIn: "DenyUsers someone-else",
		},
		{
			name: "live, sshd not started yet (no /run/sshd): check skipped, drop-in kept", live: true,
			fail:        map[string]error{"/usr/sbin/sshd -t": privsep, "systemctl is-active": errExit1},
			wantWarning: "sshd has not started yet",
			wantCalls:   []string{"/usr/sbin/sshd -t", "systemctl is-active --quiet ssh.service", "systemctl is-active --quiet sshd.service"},
			wantDropIn:  "DenyUsers ec2-serial",
		},
		{
			name: "live, no /run/sshd but sshd runs: a real failure", live: true,
			fail:      map[string]error{"/usr/sbin/sshd -t": privsep},
			wantErr:   privsepMissing,
			wantCalls: []string{"/usr/sbin/sshd -t", "systemctl is-active --quiet ssh.service"},
		},
		{
			name: "image root, check fails: a warning", fail: map[string]error{"sshd -t": errExit1},
			wantWarning: "checking the sshd configuration", wantDropIn: "DenyUsers ec2-serial",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := debianRoot(t)
			mainPath := filepath.Join(root, SSHDConfigPath)
			mainBefore := readFile(t, mainPath)
			if tt.oldDropIn != "" {
				writeFile(t, filepath.Join(root, SSHDropInPath), tt.oldDropIn)
			}
			run := &fakeRunner{fail: tt.fail}
			c := New(root, run)
			c.liveRoot = tt.live
			warnings, err := c.applySSHD(ctx, "ec2-serial")
			if (err != nil) != (tt.wantErr != "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want one with %q", err, tt.wantErr)
			}
			checkWarnings(t, warnings, tt.wantWarning)
			if tt.wantCalls != nil && !slices.Equal(run.calls, tt.wantCalls) {
				t.Errorf("calls = %q, want %q", run.calls, tt.wantCalls)
			}
			got := ""
			if c.exists(SSHDropInPath) {
				got = readFile(t, filepath.Join(root, SSHDropInPath))
			}
			if (tt.wantDropIn == "") != (got == "") || !strings.Contains(got, tt.wantDropIn) {
				t.Errorf("drop-in = %q, want one with %q", got, tt.wantDropIn)
			}
			if readFile(t, mainPath) != mainBefore {
				t.Errorf("sshd_config was edited")
			}
		})
	}
}

func checkWarnings(t *testing.T, warnings []string, want string) {
	t.Helper()
	if want != "" && !slices.ContainsFunc(warnings, func(w string) bool { return strings.Contains(w, want) }) {
		t.Errorf("warnings = %q, want one with %q", warnings, want)
	}
	if want == "" && len(warnings) > 0 {
		t.Errorf("unexpected warnings %q", warnings)
	}
}

// TestApplySSHDWithoutInclude: where sshd_config does not include our
// drop-in, the main file alone must keep the console password off SSH,
// or that is the error (the status reason); the file is never edited.
func TestApplySSHDWithoutInclude(t *testing.T) {
	const refuses = "PasswordAuthentication no\nChallengeResponseAuthentication no\n"
	tests := []struct {
		name    string
		main    func(debian string) string // from Debian's file without its Include
		files   map[string]string
		wantErr string // "" for none
	}{
		{name: "Debian's defaults: passwords on", main: func(d string) string { return d },
			wantErr: "allows password logins: the console password would work over SSH; add 'Include /etc/ssh/sshd_config.d/*.conf' or set PasswordAuthentication no, ChallengeResponseAuthentication no"},
		{name: "both off (Amazon Linux 2, RHEL 8 cloud images)", main: func(d string) string { return refuses + d }},
		{name: "Keyword=value and any case", main: func(d string) string {
			return "passwordauthentication=no\nCHALLENGERESPONSEAUTHENTICATION = no\n" + d
		}},
		{name: "first value wins", main: func(d string) string { return "PasswordAuthentication yes\n" + refuses + d },
			wantErr: "set PasswordAuthentication no"},
		{name: "KbdInteractiveAuthentication no alone: old sshd still does PAM challenge-response",
			main:    func(d string) string { return "PasswordAuthentication no\n" + d },
			wantErr: "set ChallengeResponseAuthentication no"},
		{name: "KbdInteractiveAuthentication yes after challenge-response off", main: func(d string) string {
			return strings.Replace(refuses+d, "KbdInteractiveAuthentication no", "KbdInteractiveAuthentication yes", 1)
		}, wantErr: "KbdInteractiveAuthentication no"},
		{name: "a Match block turns passwords back on", main: func(d string) string {
			return refuses + d + "Match Address 10.0.0.0/8\n\tPasswordAuthentication yes\n"
		}, wantErr: "turn them on in no Match block"},
		{name: "a Match block setting no is harmless", main: func(d string) string {
			return refuses + d + "Match User backup\n\tPasswordAuthentication no\n"
		}},
		{name: "off only inside a Match block", main: func(d string) string {
			return d + "Match all\n" + refuses
		}, wantErr: "set PasswordAuthentication no"},
		{name: "DenyUsers of the user in the main file", main: func(d string) string { return "DenyUsers admin ec2-serial\n" + d }},
		{name: "DenyUsers with a wildcard", main: func(d string) string { return "DenyUsers ec2-*\n" + d }},
		{name: "DenyUsers from one host only", main: func(d string) string { return "DenyUsers ec2-serial@10.0.0.1\n" + d },
			wantErr: "allows password logins"},
		{name: "AllowUsers without the user", main: func(d string) string { return "AllowUsers admin ubuntu\n" + d }},
		{name: "AllowUsers matching the user", main: func(d string) string { return "AllowUsers admin ec2-*@10.*\n" + d },
			wantErr: "allows password logins"},
		{name: "DenyUsers replaced in a Match block", main: func(d string) string {
			return "DenyUsers ec2-serial\n" + d + "Match Address 10.0.0.0/8\n\tDenyUsers nobody\n"
		}, wantErr: "allows password logins"},
		{name: "settings in another included file", main: func(d string) string { return "Include /etc/ssh/hardening.conf\n" + d },
			files: map[string]string{"etc/ssh/hardening.conf": refuses}},
		{name: "relative Include of the drop-ins with =", main: func(d string) string { return "Include=sshd_config.d/*.conf\n" + d }},
		{name: "Include of the drop-ins inside a Match only", main: func(d string) string {
			return d + "Match User deploy\n\t" + debianInclude
		}, wantErr: "allows password logins"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := debianRoot(t)
			mainPath := filepath.Join(root, SSHDConfigPath)
			debian := strings.Replace(readFile(t, mainPath), debianInclude, "", 1)
			writeFile(t, mainPath, tt.main(debian))
			for p, data := range tt.files {
				writeFile(t, filepath.Join(root, p), data)
			}
			mainBefore := readFile(t, mainPath)
			c := New(root, &fakeRunner{})
			warnings, err := c.ApplyConsoleOnly(context.Background(), "ec2-serial", Options{})
			if (err != nil) != (tt.wantErr != "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want one with %q", err, tt.wantErr)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "sshd_config does not include sshd_config.d") {
				t.Errorf("err = %q: not the status reason", err)
			}
			checkWarnings(t, warnings, "")
			if readFile(t, mainPath) != mainBefore {
				t.Errorf("sshd_config was edited")
			}
			if !c.exists(SSHDropInPath) {
				t.Errorf("no drop-in: it should be in place for when the Include is added")
			}
			s, err := c.ConsoleOnlyState()
			if err != nil {
				t.Fatal(err)
			}
			if s.SSHRefusesPassword != (tt.wantErr == "" && !s.SSHIncluded) {
				t.Errorf("ConsoleOnlyState.SSHRefusesPassword = %v", s.SSHRefusesPassword)
			}
		})
	}
}

func TestApplySSHDNotInstalled(t *testing.T) {
	root := t.TempDir()
	run := &fakeRunner{}
	c := New(root, run)
	if w, err := c.applySSHD(context.Background(), "ec2-serial"); err != nil || len(w) > 0 {
		t.Fatalf("warnings %q, err %v", w, err)
	}
	if len(run.calls) > 0 || c.exists(SSHDropInPath) {
		t.Errorf("touched sshd without sshd: %q", run.calls)
	}
}

func TestRemoveSSHDReloadsLive(t *testing.T) {
	root := debianRoot(t)
	writeFile(t, filepath.Join(root, SSHDropInPath), string(sshDropIn("ec2-serial")))
	run := &fakeRunner{}
	c := New(root, run)
	c.liveRoot = true
	if _, err := c.removeSSHD(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c.exists(SSHDropInPath) {
		t.Error("drop-in still there")
	}
	if !slices.Contains(run.calls, "systemctl reload ssh.service") {
		t.Errorf("calls = %q, want a reload", run.calls)
	}
	if _, err := c.removeSSHD(context.Background()); err != nil || errors.Is(err, errExit1) {
		t.Fatal(err)
	}
}
