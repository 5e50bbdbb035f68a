package packaging_test

import (
	"bufio"
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

// The Debian root is built once (debootstrap, ~40 s) and cached outside the
// repository, where CI can keep it between runs; each test copies it.
const (
	defaultCacheDir = "/var/cache/serialpass-test"
	suite           = "bookworm"
	defaultMirror   = "http://deb.debian.org/debian"
)

// debianRoot returns a fresh copy of a cached debootstrap minbase root.
func debianRoot(t *testing.T) string {
	t.Helper()
	needTools(t, "debootstrap", "dpkg", "cp")
	if os.Geteuid() != 0 {
		t.Fatal("the Debian root test needs root (debootstrap, dpkg --root runs scripts in a chroot); set SERIALPASS_SKIP_PACKAGING=1 to skip")
	}
	cacheDir := os.Getenv("SERIALPASS_TEST_CACHE")
	if cacheDir == "" {
		cacheDir = defaultCacheDir
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		t.Fatal(err)
	}
	cached := filepath.Join(cacheDir, suite+"-minbase")

	lock, err := os.OpenFile(cached+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatalf("locking %s: %v", lock.Name(), err)
	}
	if _, err := os.Stat(filepath.Join(cached, "var/lib/dpkg/status")); errors.Is(err, fs.ErrNotExist) {
		// Build beside the cache and rename: a half-built root is never used.
		tmp := cached + ".tmp"
		if err := os.RemoveAll(tmp); err != nil {
			t.Fatal(err)
		}
		mirror := aptMirror()
		t.Logf("building %s from %s (once)", cached, mirror)
		start := time.Now()
		run(t, nil, "debootstrap", "--variant=minbase", suite, tmp, mirror)
		if err := os.Rename(tmp, cached); err != nil {
			t.Fatal(err)
		}
		t.Logf("debootstrap took %v", time.Since(start).Round(time.Second))
	} else if err != nil {
		t.Fatal(err)
	}

	root := filepath.Join(t.TempDir(), "root")
	run(t, nil, "cp", "-a", cached, root)
	return root
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

// TestDebInstallUpgradePurge installs the .deb into a real Debian root,
// upgrades it over an edited config, removes it and purges it.
func TestDebInstallUpgradePurge(t *testing.T) {
	skipIfAsked(t)
	needTools(t, "dpkg-deb")
	root := debianRoot(t)
	path := func(p string) string { return filepath.Join(root, p) }
	dpkg := func(args ...string) string {
		return run(t, nil, "dpkg", append([]string{"--root=" + root}, args...)...)
	}

	// Version 1: the repository's default config.
	dist1 := buildPackages(t, "VERSION=0.9.0", "ARCHES=amd64")
	dpkg("-i", filepath.Join(dist1, "serialpass_0.9.0_amd64.deb"))

	wants := path("etc/systemd/system/multi-user.target.wants/serialpass.service")
	t.Run("installed", func(t *testing.T) {
		target, err := os.Readlink(wants)
		if err != nil {
			t.Fatalf("unit not enabled: %v", err)
		}
		if target != "/lib/systemd/system/serialpass.service" {
			t.Errorf("wants link points to %s", target)
		}
		shipped, err := os.ReadFile(filepath.Join(repoRoot(t), "packaging", "config.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if got := readFile(t, path("etc/serialpass/config.yaml")); got != string(shipped) {
			t.Error("installed config.yaml differs from packaging/config.yaml")
		}
		for _, p := range []string{"etc/default/serialpass", "lib/systemd/system/serialpass.service", "usr/share/doc/serialpass/copyright"} {
			if _, err := os.Stat(path(p)); err != nil {
				t.Error(err)
			}
		}
		// The static binary runs in the root and carries the stamped version.
		if out := run(t, nil, "chroot", root, "/usr/bin/serialpass", "version"); !strings.Contains(out, "0.9.0") {
			t.Errorf("serialpass version printed %q, want 0.9.0", out)
		}
	})

	// The admin edits the config; the agent has state.
	edited := strings.Replace(readFile(t, path("etc/serialpass/config.yaml")), "#interval: 15m", "interval: 30m", 1)
	writeFile(t, path("etc/serialpass/config.yaml"), edited)
	writeFile(t, path("var/lib/serialpass/state.json"), "{}\n")

	// Version 2 ships a changed default config.
	newDefault := readFile(t, filepath.Join(repoRoot(t), "packaging", "config.yaml")) + "# changed in 0.9.1\n"
	newConfig := filepath.Join(t.TempDir(), "config.yaml")
	writeFile(t, newConfig, newDefault)
	dist2 := buildPackages(t, "VERSION=0.9.1", "ARCHES=amd64", "SERIALPASS_CONFIG="+newConfig)
	dpkg("--force-confold", "-i", filepath.Join(dist2, "serialpass_0.9.1_amd64.deb"))

	t.Run("upgraded", func(t *testing.T) {
		if got := dpkgStatus(t, root); !strings.Contains(got, "Version: 0.9.1") || !strings.Contains(got, "install ok installed") {
			t.Errorf("status after upgrade:\n%s", got)
		}
		if got := readFile(t, path("etc/serialpass/config.yaml")); got != edited {
			t.Errorf("admin's config lost on upgrade:\n%s", got)
		}
		if got := readFile(t, path("etc/serialpass/config.yaml.dpkg-dist")); got != newDefault {
			t.Errorf("config.yaml.dpkg-dist is not the new default:\n%s", got)
		}
		if _, err := os.Readlink(wants); err != nil {
			t.Errorf("unit no longer enabled: %v", err)
		}
	})

	dpkg("-r", "serialpass")
	t.Run("removed", func(t *testing.T) {
		if got := dpkgStatus(t, root); !strings.Contains(got, "deinstall ok config-files") {
			t.Errorf("status after remove:\n%s", got)
		}
		for _, p := range []string{"usr/bin/serialpass", "lib/systemd/system/serialpass.service"} {
			if _, err := os.Lstat(path(p)); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s still there after remove (%v)", p, err)
			}
		}
		if _, err := os.Stat(path("etc/serialpass/config.yaml")); err != nil {
			t.Errorf("conffile gone before purge: %v", err)
		}
		// deb-systemd-helper masks the unit of a removed package.
		if target, err := os.Readlink(path("etc/systemd/system/serialpass.service")); err != nil || target != "/dev/null" {
			t.Errorf("unit not masked after remove: %q %v", target, err)
		}
	})

	dpkg("-P", "serialpass")
	t.Run("purged", func(t *testing.T) {
		if out, err := exec.CommandContext(t.Context(), "dpkg", "--root="+root, "-s", "serialpass").CombinedOutput(); err == nil {
			t.Errorf("package still known after purge:\n%s", out)
		}
		for _, p := range []string{
			"etc/serialpass", "var/lib/serialpass", "etc/default/serialpass",
			"etc/systemd/system/multi-user.target.wants/serialpass.service",
			"etc/systemd/system/serialpass.service",
		} {
			if _, err := os.Lstat(path(p)); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s still there after purge (%v)", p, err)
			}
		}
	})
}

func dpkgStatus(t *testing.T, root string) string {
	t.Helper()
	return run(t, nil, "dpkg", "--root="+root, "-s", "serialpass")
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func writeFile(t *testing.T, name, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
