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
