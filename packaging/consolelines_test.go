package packaging_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/serialpass/serialpass/agent/console"
	"github.com/serialpass/serialpass/internal/imdsemu"
	"github.com/serialpass/serialpass/internal/testbed"
)

const (
	consoleUser   = "ec2-serial"
	consoleSecret = "packaging/console"
	// blockMarker opens serialpass's marked block in a shared file.
	blockMarker = "# BEGIN serialpass"
)

// consoleFiles are the distro's files serialpass edits for console-only
// login: after package removal each must be byte for byte what it was
// before serialpass touched it.
var consoleFiles = []struct {
	name, path string
	// block: serialpass adds a marked block to it (else it only relies on
	// the file, as sshd_config's Include of sshd_config.d).
	block bool
}{
	{"access.conf", console.AccessConfPath, true},
	{"pam login", console.PAMLoginPath, true},
	{"sshd_config", console.SSHDConfigPath, false},
}

// serialpassFiles are the files serialpass owns outright: removal deletes them.
var serialpassFiles = []struct{ name, path string }{
	{"sshd drop-in", console.SSHDropInPath},
	{"issue file", console.IssuePath},
}

// applyConsoleLines runs the installed package's own binary, `serialpass
// once --root ROOT`, against moto and the IMDS emulator, as an image
// pipeline would: the root then holds exactly the lines a real pass
// writes. It returns the console files as they were before.
func applyConsoleLines(t *testing.T, root string) map[string][]byte {
	t.Helper()
	before := map[string][]byte{}
	for _, f := range consoleFiles {
		data, err := os.ReadFile(filepath.Join(root, f.path))
		if err != nil {
			t.Fatalf("the Debian root lacks /%s: %v", f.path, err)
		}
		before[f.path] = data
	}
	// Under --root the kernel console is read from the GRUB defaults; an
	// EC2 AMI has them, this root (booted with -kernel) does not.
	writeFile(t, filepath.Join(root, "etc/default/grub"), `GRUB_CMDLINE_LINUX="console=ttyS0,115200n8"`+"\n")

	moto := testbed.StartMoto(t)
	moto.CreateSecret(t, consoleSecret, "Pkg-"+strings.Repeat("x7", 8))
	imds := imdsemu.New(imdsemu.Options{Tags: map[string]string{"serialpass:secret": consoleSecret}})
	if err := imds.Start(); err != nil {
		t.Fatalf("starting the IMDS emulator: %v", err)
	}
	t.Cleanup(func() { imds.Close() })

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(root, "usr/bin/serialpass"), "once",
		"--root", root, "--config", filepath.Join(root, "etc/serialpass/config.yaml"))
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + t.TempDir(),
		"AWS_EC2_METADATA_SERVICE_ENDPOINT=" + imds.URL(),
		"AWS_ENDPOINT_URL=" + moto.Endpoint,
		"AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null",
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("serialpass once --root %s: %v\n%s", root, err, out)
	}
	return before
}

// checkConsoleLines checks that serialpass's lines are all in the root.
func checkConsoleLines(t *testing.T, root string) {
	t.Helper()
	for _, f := range consoleFiles {
		if !f.block {
			continue
		}
		t.Run(f.name, func(t *testing.T) {
			if got := readFile(t, filepath.Join(root, f.path)); !strings.Contains(got, blockMarker) {
				t.Errorf("/%s has no serialpass block:\n%s", f.path, got)
			}
		})
	}
	for _, f := range serialpassFiles {
		t.Run(f.name, func(t *testing.T) {
			if _, err := os.Stat(filepath.Join(root, f.path)); err != nil {
				t.Errorf("/%s missing: %v", f.path, err)
			}
		})
	}
	t.Run("the managed user", func(t *testing.T) {
		if !strings.Contains(readFile(t, filepath.Join(root, "etc/passwd")), "\n"+consoleUser+":") {
			t.Errorf("once did not create %s", consoleUser)
		}
	})
}

// checkConsoleRestored checks that serialpass's lines are gone and every
// other byte of the files it edited is back as before.
func checkConsoleRestored(t *testing.T, root string, before map[string][]byte) {
	t.Helper()
	for _, f := range consoleFiles {
		t.Run(f.name, func(t *testing.T) {
			got, err := os.ReadFile(filepath.Join(root, f.path))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(before[f.path]) {
				t.Errorf("/%s differs from before serialpass:\ngot:\n%s\nwant:\n%s", f.path, got, before[f.path])
			}
		})
	}
	for _, f := range serialpassFiles {
		t.Run(f.name, func(t *testing.T) {
			if _, err := os.Lstat(filepath.Join(root, f.path)); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("/%s still there after remove (%v)", f.path, err)
			}
		})
	}
}
