package testbed

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// The Debian 12 root the package tests install into and the VM test boots:
// built once with mmdebstrap and cached outside the repository (where CI
// can keep it between runs), under a lock so parallel tests wait rather
// than build twice.
const (
	defaultCacheDir = "/var/cache/serialpass-test"
	suite           = "bookworm"
	defaultMirror   = "http://deb.debian.org/debian"
	// rootVersion changes whenever the root's setup below does.
	rootVersion = "2"
)

// rootPackages go into the root on top of minbase: systemd as PID 1, a
// kernel to boot, sshd to prove SSH is refused, sudo for the admin group.
//
// The kernel is linux-image-cloud-amd64, not the linux-image-amd64 issue 5
// names, on purpose: it is the kernel Debian's own EC2 AMIs boot (the
// debian-cloud-images "ec2" builds install the cloud flavour), so it is the
// more faithful choice, and it is the faster one under TCG (far fewer
// modules, a smaller initrd, no hardware probing the VM does not need).
// virtio_blk, virtio_net, the 8250 serial driver and ext4 are all in it.
var rootPackages = []string{"systemd-sysv", "udev", "dbus", "libpam-systemd", "linux-image-cloud-amd64",
	"openssh-server", "sudo", "ca-certificates"}

const dhcpNetwork = `[Match]
Name=en* eth*

[Network]
DHCP=ipv4
`

// rootSpec is one cached Debian root: what mmdebstrap installs on top of
// minbase, and the setup after it.
type rootSpec struct {
	suite    string
	packages []string
	// version changes whenever setup does.
	version string
	setup   func(t TB, root string)
}

var bookworm = rootSpec{suite: suite, packages: rootPackages, version: rootVersion, setup: vmSetup}

// trixie is Debian 13 for the VM, with what its standard install records
// logins with: pam_wtmpdb (libpam-wtmpdb, in common-session) and wtmpdb.
var trixie = rootSpec{suite: "trixie", version: "1", setup: vmSetup,
	packages: append(slices.Clone(rootPackages), "libpam-wtmpdb", "wtmpdb")}

// vmSetup names the host and brings the network up with DHCP.
func vmSetup(t TB, work string) {
	writeRootFile(t, filepath.Join(work, "etc/hostname"), "serialvm\n")
	writeRootFile(t, filepath.Join(work, "etc/hosts"), "127.0.0.1 localhost\n127.0.1.1 serialvm\n")
	writeRootFile(t, filepath.Join(work, "etc/systemd/network/50-dhcp.network"), dhcpNetwork)
	runTool(t, time.Minute, "chroot", work, "systemctl", "enable", "systemd-networkd.service", "systemd-networkd-wait-online.service")
}

// Trixie returns the cached Debian 13 root for the VM (the packages of
// Bookworm's, and pam_wtmpdb), building it on first use (1 to 4 minutes);
// its wtmpdb also serves the tests of our wtmpdb reader. Do not change it:
// copy it with CopyRoot.
func Trixie(t TB) string {
	t.Helper()
	return cachedRoot(t, trixie)
}

// TrixieCached is BookwormCached for Trixie.
func TrixieCached() bool { return isDir(filepath.Join(trixie.dir(), "root")) }

// Bookworm returns the cached Debian 12 root, building it on first use
// (about 1 to 4 minutes). Do not change it: copy it with CopyRoot.
// SERIALPASS_TEST_CACHE moves the cache, SERIALPASS_DEBIAN_MIRROR the mirror
// (default: the one this machine's apt uses).
func Bookworm(t TB) string {
	t.Helper()
	return cachedRoot(t, bookworm)
}

func cachedRoot(t TB, spec rootSpec) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatalf("building a Debian root needs root (mmdebstrap, chroot)")
	}
	dir := spec.dir()
	final := filepath.Join(dir, "root")
	if isDir(final) {
		return final
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("creating the cache: %v", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatalf("locking the cache: %v", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatalf("locking %s: %v", lock.Name(), err)
	}
	if isDir(final) { // built by another test while we waited
		return final
	}
	// Build beside the cache and rename: a half-built root is never used.
	work := filepath.Join(dir, "root.build")
	if err := os.RemoveAll(work); err != nil {
		t.Fatalf("clearing %s: %v", work, err)
	}
	// The mirror apt uses for bookworm serves every suite.
	runTool(t, 15*time.Minute, "mmdebstrap", "--variant=minbase", "--include="+strings.Join(spec.packages, ","), spec.suite, work, aptMirror())
	if spec.setup != nil {
		spec.setup(t, work)
	}
	if err := os.Rename(work, final); err != nil {
		t.Fatalf("caching the root: %v", err)
	}
	return final
}

// BookwormCached reports whether the root Bookworm returns (and with it
// the kernel and initrd the VM boots) is already built, so that a caller
// can tell a run that pays for mmdebstrap from one that does not.
func BookwormCached() bool {
	return isDir(filepath.Join(bookworm.dir(), "root"))
}

// dir is the cache directory of the root: its name changes with the
// suite, the packages and the version.
func (spec rootSpec) dir() string {
	cache := os.Getenv("SERIALPASS_TEST_CACHE")
	if cache == "" {
		cache = defaultCacheDir
	}
	sum := sha256.Sum256([]byte(spec.suite + " minbase " + strings.Join(spec.packages, ",") + " v" + spec.version))
	return filepath.Join(cache, spec.suite+"-"+hex.EncodeToString(sum[:6]))
}

// CopyRoot copies a cached root for one test; it goes when the test ends.
func CopyRoot(t TB, base string) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "root")
	runTool(t, 2*time.Minute, "cp", "-a", "--reflink=auto", base, root)
	return root
}

func runTool(t TB, timeout time.Duration, argv ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
}

func writeRootFile(t TB, p, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatalf("writing %s: %v", p, err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatalf("writing %s: %v", p, err)
	}
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// aptMirror finds the Debian mirror this machine's apt uses for the suite,
// so debootstrap goes where apt already goes. SERIALPASS_DEBIAN_MIRROR wins.
func aptMirror() string {
	if m := os.Getenv("SERIALPASS_DEBIAN_MIRROR"); m != "" {
		return m
	}
	files, _ := filepath.Glob("/etc/apt/sources.list.d/*.sources")
	files = append(files, "/etc/apt/sources.list")
	list, _ := filepath.Glob("/etc/apt/sources.list.d/*.list")
	files = append(files, list...)
	for _, name := range files {
		if m := mirrorIn(name); m != "" {
			return m
		}
	}
	return defaultMirror
}

// mirrorIn reads one apt source file, one-line or deb822 style, and returns
// the first deb URI that serves the suite itself (not -security/-updates).
func mirrorIn(name string) string {
	f, err := os.Open(name)
	if err != nil {
		return ""
	}
	defer f.Close()
	var uris, suites []string
	deb := false
	flush := func() string {
		found := ""
		if deb && strings.Contains(" "+strings.Join(suites, " ")+" ", " "+suite+" ") && len(uris) > 0 {
			found = uris[0]
		}
		uris, suites, deb = nil, nil, false
		return found
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		fields := strings.Fields(line)
		switch {
		case line == "":
			if m := flush(); m != "" {
				return m
			}
		case strings.HasPrefix(line, "#"):
		case fields[0] == "deb" && len(fields) >= 3:
			// One-line style; skip an optional [options] block.
			rest := fields[1:]
			for len(rest) > 0 && strings.HasPrefix(rest[0], "[") {
				for len(rest) > 0 && !strings.HasSuffix(rest[0], "]") {
					rest = rest[1:]
				}
				rest = rest[1:]
			}
			if len(rest) >= 2 && rest[1] == suite {
				return rest[0]
			}
		case strings.HasPrefix(line, "Types:"):
			deb = strings.Contains(" "+line[len("Types:"):]+" ", " deb ")
		case strings.HasPrefix(line, "URIs:"):
			uris = strings.Fields(line[len("URIs:"):])
		case strings.HasPrefix(line, "Suites:"):
			suites = strings.Fields(line[len("Suites:"):])
		}
	}
	return flush()
}
