package vm_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cacheDir keeps the Debian root between runs (CI can cache it too).
const cacheDir = "/var/cache/serialpass-test"

// packages go into the root on top of mmdebstrap's minbase.
var packages = []string{"systemd-sysv", "udev", "dbus", "libpam-systemd", "linux-image-cloud-amd64",
	"openssh-server", "sudo", "ca-certificates"}

// customizeVersion changes whenever customize does, to rebuild the cache.
const customizeVersion = "1"

const dhcpNetwork = `[Match]
Name=en* eth*

[Network]
DHCP=ipv4
`

// baseRoot returns the cached Debian 12 root, building it once (under a
// lock, so parallel runs wait instead of building twice).
func baseRoot(t *testing.T) string {
	t.Helper()
	sum := sha256.Sum256([]byte("bookworm minbase " + strings.Join(packages, ",") + " v" + customizeVersion))
	dir := filepath.Join(cacheDir, "bookworm-"+hex.EncodeToString(sum[:6]))
	final := filepath.Join(dir, "root")
	if isDir(final) {
		return final
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("creating the cache: %v", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if isDir(final) { // another run built it while we waited
		return final
	}
	work := filepath.Join(dir, "root.build")
	done := filepath.Join(dir, "mmdebstrap.done")
	if !exists(done) {
		if err := os.RemoveAll(work); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		t.Logf("building the Debian 12 root in %s (once; ~1-4 min)", work)
		run(t, 15*time.Minute, "mmdebstrap", "--variant=minbase", "--include="+strings.Join(packages, ","), "bookworm", work)
		t.Logf("mmdebstrap took %s", time.Since(start).Round(time.Second))
		writeFile(t, done, "")
	}
	writeFile(t, filepath.Join(work, "etc/hostname"), "serialvm\n")
	writeFile(t, filepath.Join(work, "etc/hosts"), "127.0.0.1 localhost\n127.0.1.1 serialvm\n")
	writeFile(t, filepath.Join(work, "etc/systemd/network/50-dhcp.network"), dhcpNetwork)
	run(t, time.Minute, "chroot", work, "systemctl", "enable", "systemd-networkd.service", "systemd-networkd-wait-online.service")
	if err := os.Rename(work, final); err != nil {
		t.Fatal(err)
	}
	return final
}

// guestRoot copies the cached root for one run and installs the package.
func guestRoot(t *testing.T, base, deb string) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "root")
	run(t, 2*time.Minute, "cp", "-a", "--reflink=auto", base, root)
	run(t, 2*time.Minute, "dpkg", "--root="+root, "--force-confold", "-i", deb)
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
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
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

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return !errors.Is(err, fs.ErrNotExist)
}
