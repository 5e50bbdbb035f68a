package packaging_test

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/serialpass/serialpass/internal/testbed"
)

// TestDebInstallUpgradePurge installs the .deb into a real Debian root,
// runs a pass of the installed binary there (console-only lines), upgrades
// it over an edited config, removes it (the lines go, every other byte of
// those files stays) and purges it.
func TestDebInstallUpgradePurge(t *testing.T) {
	base := packagingRoot(t, "dpkg-deb")
	root := testbed.CopyRoot(t, base)
	path := func(p string) string { return filepath.Join(root, p) }
	dpkg := func(args ...string) string {
		return run(t, nil, "dpkg", append([]string{"--root=" + root}, args...)...)
	}

	// Version 1: the repository's default config.
	dist1 := buildPackages(t, "VERSION=0.9.0", "ARCHES=amd64")
	deb1 := filepath.Join(dist1, "serialpass_0.9.0_amd64.deb")
	t.Run("admin preset honoured", func(t *testing.T) { checkPresetDisables(t, base, deb1) })
	dpkg("-i", deb1)

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
		for _, p := range []string{"etc/default/serialpass", "lib/systemd/system/serialpass.service",
			"usr/share/doc/serialpass/copyright", "usr/share/doc/serialpass/README.md"} {
			if _, err := os.Stat(path(p)); err != nil {
				t.Error(err)
			}
		}
		// The static binary runs in the root and carries the stamped version.
		if out := run(t, nil, "chroot", root, "/usr/bin/serialpass", "version"); !strings.Contains(out, "0.9.0") {
			t.Errorf("serialpass version printed %q, want 0.9.0", out)
		}
	})

	// The agent runs a pass: console-only lines, the issue file, state.
	consoleBefore := applyConsoleLines(t, root)
	t.Run("console lines written", func(t *testing.T) { checkConsoleLines(t, root) })
	if _, err := os.Stat(path("var/lib/serialpass/state.json")); err != nil {
		t.Fatalf("no state after a pass: %v", err)
	}

	// The admin edits the config.
	edited := strings.Replace(readFile(t, path("etc/serialpass/config.yaml")), "#interval: 15m", "interval: 30m", 1)
	writeFile(t, path("etc/serialpass/config.yaml"), edited)

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
	// prerm runs cleanup on remove only: an upgrade keeps the lines.
	t.Run("console lines kept on upgrade", func(t *testing.T) { checkConsoleLines(t, root) })

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
		// deb-systemd-helper masks the unit of a removed package (see
		// packaging/deb/postrm for why not a plain disable); its enable
		// link stays until purge.
		if target, err := os.Readlink(path("etc/systemd/system/serialpass.service")); err != nil || target != "/dev/null" {
			t.Errorf("unit not masked after remove: %q %v", target, err)
		}
	})
	// prerm ran `serialpass cleanup`.
	t.Run("console lines removed", func(t *testing.T) { checkConsoleRestored(t, root, consoleBefore) })
	t.Run("password locked, account kept", func(t *testing.T) {
		if hash := testbed.ShadowHash(t, root, "ec2-serial"); !strings.HasPrefix(hash, "!") {
			t.Errorf("the managed user's password is not locked after remove (hash %.3s…)", hash)
		}
		if _, err := os.Stat(path("home/ec2-serial")); err != nil {
			t.Errorf("the home directory went with the package: %v", err)
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

// packagingRoot skips when asked, checks the tools, and returns the cached
// Debian root to copy: installing into it runs the package's scripts in a
// chroot, which needs root.
func packagingRoot(t *testing.T, tools ...string) string {
	t.Helper()
	skipIfAsked(t)
	needTools(t, append(tools, "mmdebstrap", "cp", "systemctl")...)
	if os.Geteuid() != 0 {
		t.Fatal("installing into the Debian root needs root (the package's scripts run in a chroot); set SERIALPASS_SKIP_PACKAGING=1 to skip")
	}
	testbed.Exclusive(t)
	return testbed.Bookworm(t)
}

// checkPresetDisables installs the .deb into a root of its own whose admin
// has a preset disabling the unit: the postinst enables the unit through
// presets (deb-systemd-helper runs `systemctl preset` on a first install),
// so it must stay disabled. The main root, without that preset, shows the
// unit enabled.
func checkPresetDisables(t *testing.T, base, deb string) {
	root := testbed.CopyRoot(t, base)
	writeFile(t, filepath.Join(root, "etc/systemd/system-preset/00-admin.preset"), "disable serialpass.service\n")
	run(t, nil, "dpkg", "--root="+root, "-i", deb)
	if got := dpkgStatus(t, root); !strings.Contains(got, "install ok installed") {
		t.Errorf("status after install:\n%s", got)
	}
	wants := filepath.Join(root, "etc/systemd/system/multi-user.target.wants/serialpass.service")
	if target, err := os.Readlink(wants); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("unit enabled despite the admin's preset: %s -> %q (%v)", wants, target, err)
	}
	// systemctl reads the root offline: no systemd needs to run.
	out, _ := exec.CommandContext(t.Context(), "systemctl", "--root="+root, "is-enabled", "serialpass.service").Output()
	if got := strings.TrimSpace(string(out)); got != "disabled" {
		t.Errorf("systemctl is-enabled in the root says %q, want disabled", got)
	}
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
