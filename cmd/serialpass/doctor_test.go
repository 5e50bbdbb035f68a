package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDoctorOffEC2 runs doctor as on this machine: no instance metadata.
// The EC2-only checks must fail and say why; the host checks still run.
func TestDoctorOffEC2(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close() // nothing listens there now: connection refused
	t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://"+closed)

	root := t.TempDir()
	write := func(rel, data string) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("etc/default/grub", "GRUB_CMDLINE_LINUX=\"console=ttyS0,115200\"\n")
	write("etc/passwd", "root:x:0:0::/root:/bin/bash\n")
	write("etc/shadow", "root:*:19000:0:99999:7:::\n")
	write("etc/security/access.conf", "")
	write("etc/pam.d/login", "account required pam_unix.so\n")

	for _, format := range []string{"table", "json"} {
		t.Run(format, func(t *testing.T) {
			args := []string{"doctor", "--root", root, "--config", filepath.Join(root, "none.yaml")}
			write("none.yaml", "")
			if format == "json" {
				args = append(args, "--json")
			}
			var out, errOut bytes.Buffer
			if code := dispatch(context.Background(), args, &out, &errOut); code != 1 {
				t.Errorf("exit %d, want 1; stderr %s", code, errOut.String())
			}
			text := out.String()
			if format == "table" {
				for _, w := range []string{"✗ IMDS reachable", "✗ instance role", "not on EC2", "✓ kernel console", "! managed user"} {
					if !strings.Contains(text, w) {
						t.Errorf("table lacks %q:\n%s", w, text)
					}
				}
				return
			}
			var checks []struct{ Name, Status, Why, Fix string }
			if err := json.Unmarshal(out.Bytes(), &checks); err != nil {
				t.Fatalf("%v in %s", err, text)
			}
			if len(checks) < 12 || checks[0].Name != "IMDS reachable" || checks[0].Status != "fail" {
				t.Errorf("checks = %+v", checks)
			}
		})
	}
}

// TestDoctorSSHDWithoutInclude: doctor judges an sshd_config that does not
// include sshd_config.d as the agent's pass does, reading the real files:
// fine when the main file refuses password logins by itself.
func TestDoctorSSHDWithoutInclude(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://"+closed)

	tests := []struct {
		name, sshdConfig string
		dropIn           bool
		want             string
		whyHas           string
	}{
		{"included, drop-in present", "Include /etc/ssh/sshd_config.d/*.conf\nPasswordAuthentication yes\n", true, "pass", "DenyUsers"},
		{"not included, passwords refused", "PasswordAuthentication no\nChallengeResponseAuthentication no\n", true, "pass",
			"the main file itself refuses password logins"},
		{"not included, passwords refused, no drop-in", "PasswordAuthentication no\nKbdInteractiveAuthentication no\nChallengeResponseAuthentication no\n", false, "pass",
			"does not include sshd_config.d"},
		{"not included, passwords allowed", "PasswordAuthentication yes\nChallengeResponseAuthentication no\n", true, "fail", "allows password logins"},
		{"not included, defaults", "# nothing set: sshd's defaults allow passwords\n", true, "fail", "allows password logins"},
		{"not included, passwords on in a Match block", "PasswordAuthentication no\nChallengeResponseAuthentication no\nMatch Address 10.0.0.0/8\n  PasswordAuthentication yes\n", true, "fail", "allows password logins"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			files := map[string]string{
				"etc/default/grub":         "GRUB_CMDLINE_LINUX=\"console=ttyS0,115200\"\n",
				"etc/passwd":               "root:x:0:0::/root:/bin/bash\n",
				"etc/shadow":               "root:*:19000:0:99999:7:::\n",
				"etc/security/access.conf": "",
				"etc/pam.d/login":          "account required pam_unix.so\n",
				"etc/ssh/sshd_config":      tt.sshdConfig,
				"none.yaml":                "",
			}
			if tt.dropIn {
				files["etc/ssh/sshd_config.d/serialpass.conf"] = "DenyUsers ec2-serial\n"
			}
			for rel, data := range files {
				p := filepath.Join(root, rel)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var out, errOut bytes.Buffer
			dispatch(context.Background(), []string{"doctor", "--json", "--root", root, "--config", filepath.Join(root, "none.yaml")}, &out, &errOut)
			var checks []struct{ Name, Status, Why, Fix string }
			if err := json.Unmarshal(out.Bytes(), &checks); err != nil {
				t.Fatalf("%v in %s (stderr %s)", err, out.String(), errOut.String())
			}
			for _, c := range checks {
				if c.Name != "sshd drop-in" {
					continue
				}
				if c.Status != tt.want || !strings.Contains(c.Why, tt.whyHas) {
					t.Errorf("sshd drop-in = %+v, want %s with %q", c, tt.want, tt.whyHas)
				}
				return
			}
			t.Errorf("no sshd drop-in check in %s", out.String())
		})
	}
}
