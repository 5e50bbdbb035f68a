package vm_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/serialpass/serialpass/internal/testbed"
)

// guestRoot copies the cached root for one run, installs the package and
// adds the SSH positive control: ctlUser, a user serialpass does not
// manage, with the throwaway password ctlPW (given to chpasswd on stdin),
// and password authentication turned on explicitly for everyone, so that
// only serialpass's DenyUsers drop-in can refuse the managed user.
func guestRoot(t *testing.T, base, deb, ctlUser, ctlPW string) string {
	t.Helper()
	root := testbed.CopyRoot(t, base)
	run(t, 2*time.Minute, "dpkg", "--root="+root, "--force-confold", "-i", deb)
	run(t, time.Minute, "chroot", root, "useradd", "--create-home", "--shell", "/bin/bash", ctlUser)
	runStdin(t, time.Minute, ctlUser+":"+ctlPW+"\n", "chroot", root, "chpasswd")
	writeFile(t, filepath.Join(root, "etc/ssh/sshd_config.d/10-vmtest.conf"),
		"# VM test: password logins allowed, as the positive control needs.\nPasswordAuthentication yes\n")
	return root
}

// firstBootUnit installs serialpass from its binary at first boot through
// serialpass itself (kardianos/service on the live systemd), as the
// cloud-init runcmd of docs/deploy.md's tarball install does.
const firstBootUnit = `[Unit]
Description=VM test: serialpass install and start, as cloud-init's runcmd would
ConditionPathExists=!/etc/systemd/system/serialpass.service
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
ExecStart=/usr/bin/serialpass install
ExecStart=/usr/bin/serialpass start

[Install]
WantedBy=multi-user.target
`

// tarballRoot copies the cached root for one run with serialpass as a
// tarball install leaves it: the binary from the package at
// /usr/bin/serialpass (where the unit runs it), no package, and a
// first-boot unit that runs serialpass install and start.
func tarballRoot(t *testing.T, base, deb string) string {
	t.Helper()
	root := testbed.CopyRoot(t, base)
	files := filepath.Join(t.TempDir(), "deb")
	run(t, time.Minute, "dpkg-deb", "-x", deb, files)
	run(t, time.Minute, "install", "-m", "0755", filepath.Join(files, "usr/bin/serialpass"), filepath.Join(root, "usr/bin/serialpass"))
	writeFile(t, filepath.Join(root, "etc/systemd/system/vmtest-firstboot.service"), firstBootUnit)
	if err := os.Symlink("/etc/systemd/system/vmtest-firstboot.service",
		filepath.Join(root, "etc/systemd/system/multi-user.target.wants/vmtest-firstboot.service")); err != nil {
		t.Fatal(err)
	}
	return root
}

// diskImage makes a raw ext4 image of root without loop mounts.
func diskImage(t *testing.T, root string) string {
	t.Helper()
	img := filepath.Join(t.TempDir(), "disk.img")
	run(t, time.Minute, "truncate", "-s", "1500M", img)
	run(t, 2*time.Minute, "mkfs.ext4", "-q", "-F", "-d", root, img)
	return img
}

// kernel returns the root's kernel and initrd.
func kernel(t *testing.T, root string) (vmlinuz, initrd string) {
	t.Helper()
	k, _ := filepath.Glob(filepath.Join(root, "boot/vmlinuz-*"))
	i, _ := filepath.Glob(filepath.Join(root, "boot/initrd.img-*"))
	if len(k) != 1 || len(i) != 1 {
		t.Fatalf("want one kernel and initrd in %s/boot, got %q %q", root, k, i)
	}
	return k[0], i[0]
}

func run(t *testing.T, timeout time.Duration, argv ...string) []byte {
	t.Helper()
	return runStdin(t, timeout, "", argv...)
}

// runStdin runs argv with stdin as its standard input (where passwords
// go: never on argv or in the environment).
func runStdin(t *testing.T, timeout time.Duration, stdin string, argv ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	return out
}

func writeFile(t *testing.T, p, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
