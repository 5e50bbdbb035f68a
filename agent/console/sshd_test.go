package console

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestApplySSHD(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name        string
		live        bool
		noInclude   bool
		oldDropIn   string
		fail        map[string]error
		wantErr     bool
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
			wantErr:   true,
			wantCalls: []string{"/usr/sbin/sshd -t"},
		},
		{
			name: "live, check fails: old drop-in put back", live: true,
			oldDropIn: "DenyUsers someone-else\n",
			fail:      map[string]error{"/usr/sbin/sshd -t": errExit1},
			wantErr:   true, wantCalls: []string{"/usr/sbin/sshd -t"},
			wantDropIn: "DenyUsers someone-else",
		},
		{
			name: "image root, check fails: a warning", fail: map[string]error{"sshd -t": errExit1},
			wantWarning: "checking the sshd configuration", wantDropIn: "DenyUsers ec2-serial",
		},
		{
			name: "no Include in sshd_config: reported, main file untouched", noInclude: true,
			wantWarning: "does not include /etc/ssh/sshd_config.d/*.conf", wantDropIn: "DenyUsers ec2-serial",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := debianRoot(t)
			mainPath := filepath.Join(root, SSHDConfigPath)
			if tt.noInclude {
				writeFile(t, mainPath, strings.Replace(readFile(t, mainPath), "Include /etc/ssh/sshd_config.d/*.conf\n", "", 1))
			}
			mainBefore := readFile(t, mainPath)
			if tt.oldDropIn != "" {
				writeFile(t, filepath.Join(root, SSHDropInPath), tt.oldDropIn)
			}
			run := &fakeRunner{fail: tt.fail}
			c := New(root, run)
			c.liveRoot = tt.live
			warnings, err := c.applySSHD(ctx, "ec2-serial")
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantWarning != "" && !slices.ContainsFunc(warnings, func(w string) bool { return strings.Contains(w, tt.wantWarning) }) {
				t.Errorf("warnings = %q, want one with %q", warnings, tt.wantWarning)
			}
			if tt.wantWarning == "" && len(warnings) > 0 {
				t.Errorf("unexpected warnings %q", warnings)
			}
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
