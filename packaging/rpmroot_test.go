package packaging_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/serialpass/serialpass/internal/testbed"
)

// TestRPMInstallUpgradeErase installs the .rpm with rpm itself, runs a pass,
// upgrades it over an edited config and erases it, checking what its
// scriptlets and %config(noreplace) do. No RPM distribution's root can be
// built on this machine (no dnf), so the cached Debian root stands in,
// with an rpm database of its own: rpm runs the scriptlets in it with its
// /bin/sh, as on Amazon Linux, and systemctl works on it offline as during
// an image build.
func TestRPMInstallUpgradeErase(t *testing.T) {
	root := testbed.CopyRoot(t, packagingRoot(t, "rpm"))
	path := func(p string) string { return filepath.Join(root, p) }
	// --nodeps: the Debian root's packages are not in the rpm database.
	rpm := func(args ...string) string {
		return run(t, nil, "rpm", append([]string{"--root", root, "--nodeps"}, args...)...)
	}
	run(t, nil, "rpm", "--root", root, "--initdb")

	dist1 := buildPackages(t, "VERSION=0.9.0", "ARCHES=amd64")
	rpm("-i", filepath.Join(dist1, "serialpass-0.9.0.x86_64.rpm"))
	wants := path("etc/systemd/system/multi-user.target.wants/serialpass.service")
	t.Run("installed and enabled by the preset", func(t *testing.T) {
		if got := strings.TrimSpace(run(t, nil, "rpm", "--root", root, "-q", "serialpass")); got != "serialpass-0.9.0-1.x86_64" {
			t.Errorf("rpm -q says %q", got)
		}
		if _, err := os.Readlink(wants); err != nil {
			t.Errorf("unit not enabled: %v", err)
		}
		if _, err := os.Stat(path("etc/sysconfig/serialpass")); err != nil {
			t.Error(err)
		}
	})

	consoleBefore := applyConsoleLines(t, root)
	edited := strings.Replace(readFile(t, path("etc/serialpass/config.yaml")), "#interval: 15m", "interval: 30m", 1)
	writeFile(t, path("etc/serialpass/config.yaml"), edited)

	newConfig := filepath.Join(t.TempDir(), "config.yaml")
	writeFile(t, newConfig, readFile(t, filepath.Join(repoRoot(t), "packaging", "config.yaml"))+"# changed in 0.9.1\n")
	dist2 := buildPackages(t, "VERSION=0.9.1", "ARCHES=amd64", "SERIALPASS_CONFIG="+newConfig)
	rpm("-U", filepath.Join(dist2, "serialpass-0.9.1.x86_64.rpm"))
	t.Run("upgraded, the admin's config kept", func(t *testing.T) {
		if got := strings.TrimSpace(run(t, nil, "rpm", "--root", root, "-q", "serialpass")); got != "serialpass-0.9.1-1.x86_64" {
			t.Errorf("rpm -q says %q", got)
		}
		if got := readFile(t, path("etc/serialpass/config.yaml")); got != edited {
			t.Errorf("admin's config lost on upgrade:\n%s", got)
		}
		if got := readFile(t, path("etc/serialpass/config.yaml.rpmnew")); !strings.HasSuffix(got, "# changed in 0.9.1\n") {
			t.Errorf("config.yaml.rpmnew is not the new default:\n%s", got)
		}
		if _, err := os.Readlink(wants); err != nil {
			t.Errorf("unit no longer enabled: %v", err)
		}
	})
	t.Run("console lines kept on upgrade", func(t *testing.T) { checkConsoleLines(t, root) })

	rpm("-e", "serialpass")
	t.Run("erased", func(t *testing.T) {
		for _, p := range []string{"usr/bin/serialpass", "usr/lib/systemd/system/serialpass.service", "etc/systemd/system/multi-user.target.wants/serialpass.service"} {
			if _, err := os.Lstat(path(p)); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s still there after erase (%v)", p, err)
			}
		}
		// rpm keeps an edited %config file as .rpmsave.
		if got := readFile(t, path("etc/serialpass/config.yaml.rpmsave")); got != edited {
			t.Errorf("config.yaml.rpmsave is not the admin's config:\n%s", got)
		}
	})
	// %preun ran `serialpass cleanup`.
	t.Run("console lines removed", func(t *testing.T) { checkConsoleRestored(t, root, consoleBefore) })
	t.Run("password locked, account kept", func(t *testing.T) {
		if hash := testbed.ShadowHash(t, root, "ec2-serial"); !strings.HasPrefix(hash, "!") {
			t.Errorf("the managed user's password is not locked after erase (hash %.3s…)", hash)
		}
	})
}
