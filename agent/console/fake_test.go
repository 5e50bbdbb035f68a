package console

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeRunner records every run and fails the ones whose joined argv starts
// with a key of fail.
type fakeRunner struct {
	calls  []string
	stdins []string
	fail   map[string]error
}

func (f *fakeRunner) Run(_ context.Context, stdin io.Reader, argv ...string) ([]byte, error) {
	line := strings.Join(argv, " ")
	f.calls = append(f.calls, line)
	in := ""
	if stdin != nil {
		b, _ := io.ReadAll(stdin)
		in = string(b)
	}
	f.stdins = append(f.stdins, in)
	for prefix, err := range f.fail {
		if strings.HasPrefix(line, prefix) {
			return nil, err
		}
	}
	return nil, nil
}

var errExit1 = errors.New("exit status 1")

// exitError is a program's exit status as os/exec reports it (-1: killed
// by a signal); fakes wrap it the way osexec.Runner wraps *exec.ExitError.
type exitError int

func (e exitError) Error() string {
	if e < 0 {
		return "signal: killed"
	}
	return fmt.Sprintf("exit status %d", int(e))
}
func (e exitError) ExitCode() int { return int(e) }

// ranWith wraps err like osexec.Runner: "running PROG: ERR: STDERR".
func ranWith(prog string, err error) error { return fmt.Errorf("running %s: %w: ", prog, err) }

// debianRoot returns a sandbox root holding Debian 12's pam.d/login,
// access.conf and sshd_config (from testdata) and a fake sshd.
func debianRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	copyFile(t, "testdata/pam.d-login", filepath.Join(root, PAMLoginPath))
	copyFile(t, "testdata/access.conf", filepath.Join(root, AccessConfPath))
	copyFile(t, "testdata/sshd_config", filepath.Join(root, SSHDConfigPath))
	mkdir(t, filepath.Join(root, "etc/ssh/sshd_config.d"))
	writeFile(t, filepath.Join(root, "usr/sbin/sshd"), "")
	return root
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, to, string(data))
}

func writeFile(t *testing.T, p, data string) {
	t.Helper()
	mkdir(t, filepath.Dir(p))
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mkdir(t *testing.T, p string) {
	t.Helper()
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// snapshot maps every regular file and link under root to its content.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			out[rel] = "-> " + l
		case fi.Mode().IsRegular():
			out[rel] = readFile(t, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
