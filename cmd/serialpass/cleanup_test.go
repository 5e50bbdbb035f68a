package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/serialpass/serialpass/agent/console"
	"github.com/serialpass/serialpass/agent/osexec"
)

// TestCleanupRestoresFiles applies console-only login to a Debian-shaped
// sandbox, then runs `serialpass cleanup --root` and expects the original
// bytes back.
func TestCleanupRestoresFiles(t *testing.T) {
	root := t.TempDir()
	fixtures := map[string]string{
		console.AccessConfPath: "access.conf",
		console.PAMLoginPath:   "pam.d-login",
	}
	orig := map[string][]byte{}
	for rel, name := range fixtures {
		data, err := os.ReadFile(filepath.Join("..", "..", "agent", "console", "testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		orig[rel] = data
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c := console.New(root, osexec.Runner{})
	if _, err := c.ApplyConsoleOnly(context.Background(), "ec2-serial", console.Options{}); err != nil {
		t.Fatalf("applying: %v", err)
	}
	changed, _ := os.ReadFile(filepath.Join(root, console.AccessConfPath))
	if bytes.Equal(changed, orig[console.AccessConfPath]) {
		t.Fatal("apply changed nothing: the test would prove nothing")
	}
	var stdout, stderr bytes.Buffer
	if code := dispatch(context.Background(), []string{"cleanup", "--root", root}, &stdout, &stderr); code != 0 {
		t.Fatalf("cleanup exited %d: %s", code, stderr.String())
	}
	for rel, want := range orig {
		got, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s not restored (err %v)", rel, err)
		}
	}
}
