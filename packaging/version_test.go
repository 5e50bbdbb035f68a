package packaging_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/serialpass/serialpass/internal/testbed"
)

// safeVersionRE is a version that Debian (a native package: no revision,
// so no '-'; no epoch) and RPM (no '-' either) both take as it is.
var safeVersionRE = regexp.MustCompile(`^[0-9][A-Za-z0-9.+~]*$`)

// buildScript runs packaging/build.sh with env as its whole environment
// and returns its stdout.
func buildScript(t *testing.T, env []string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(repoRoot(t), "packaging", "build.sh"), args...)
	cmd.Env = env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("build.sh %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

// TestGitVersionPackages builds the packages as `make package` does, with
// no VERSION: the version comes from git, and the file names and the
// packages' own metadata must carry it in a form dpkg and rpm accept.
func TestGitVersionPackages(t *testing.T) {
	skipIfAsked(t)
	needTools(t, "git", "dpkg", "dpkg-deb", "rpm")
	testbed.Exclusive(t)
	nfpm := filepath.Join(repoRoot(t), "bin", "nfpm")
	if _, err := os.Stat(nfpm); err != nil {
		t.Fatalf("%s missing: run 'make tools'", nfpm)
	}
	env := append(testbed.EnvWithout("VERSION"), "ARCHES=amd64", "NFPM="+nfpm)
	want := strings.TrimSpace(buildScript(t, env, "--print-version"))
	dist := t.TempDir()
	buildScript(t, env, dist)
	t.Logf("version from git: %s", want)

	debs, _ := filepath.Glob(filepath.Join(dist, "*.deb"))
	rpms, _ := filepath.Glob(filepath.Join(dist, "*.rpm"))
	if len(debs) != 1 || len(rpms) != 1 {
		t.Fatalf("want one .deb and one .rpm in %s, got %q %q", dist, debs, rpms)
	}
	deb, rpmFile := debs[0], rpms[0]
	debName := regexp.MustCompile(`^serialpass_(.+)_amd64\.deb$`).FindStringSubmatch(filepath.Base(deb))
	rpmName := regexp.MustCompile(`^serialpass-(.+)\.x86_64\.rpm$`).FindStringSubmatch(filepath.Base(rpmFile))
	if debName == nil || rpmName == nil {
		t.Fatalf("unexpected file names %s, %s", filepath.Base(deb), filepath.Base(rpmFile))
	}
	for _, tc := range []struct{ name, got string }{
		{"deb file name", debName[1]},
		{"dpkg-deb -f Version", strings.TrimSpace(run(t, nil, "dpkg-deb", "-f", deb, "Version"))},
		{"rpm file name", rpmName[1]},
		{"rpm VERSION", run(t, nil, "rpm", "-qp", "--queryformat", "%{VERSION}", rpmFile)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != want {
				t.Errorf("version %q, want %q (build.sh --print-version)", tc.got, want)
			}
			if !safeVersionRE.MatchString(tc.got) {
				t.Errorf("version %q is not Debian/RPM-safe (%s)", tc.got, safeVersionRE)
			}
			if out, err := exec.CommandContext(t.Context(), "dpkg", "--validate-version", tc.got).CombinedOutput(); err != nil {
				t.Errorf("dpkg --validate-version %q: %v %s", tc.got, err, out)
			}
		})
	}
}

// fakeGit answers build.sh's version questions: `describe` prints
// $FAKE_DESCRIBE (fails when it is empty, as outside a git tree), the
// commit count is 12 and the short hash 0abc123.
const fakeGit = `#!/bin/sh
case $1 in
describe) [ -n "$FAKE_DESCRIBE" ] || exit 128; echo "$FAKE_DESCRIBE" ;;
rev-list) echo 12 ;;
rev-parse) echo 0abc123 ;;
*) echo "fake git: $*" >&2; exit 2 ;;
esac
`

// TestGitVersionScheme checks build.sh's mapping from `git describe` to
// a package version, for every shape of describe output.
func TestGitVersionScheme(t *testing.T) {
	needTools(t, "dpkg")
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "git"), []byte(fakeGit), 0o755); err != nil {
		t.Fatal(err)
	}
	env := append(testbed.EnvWithout("VERSION", "PATH", "FAKE_DESCRIBE"), "PATH="+bin+":"+os.Getenv("PATH"))
	for _, tc := range []struct{ name, describe, want string }{
		{"release tag", "v1.2.3", "1.2.3"},
		{"tag without v", "1.2.3", "1.2.3"},
		{"commits after a tag", "v1.2.3-4-gabc1234", "1.2.3+git4.abc1234"},
		{"dirty after a tag", "v1.2.3-4-gabc1234-dirty", "1.2.3+git4.abc1234.dirty"},
		{"pre-release tag", "v2.0.0-rc1", "2.0.0~rc1"},
		{"commits after a pre-release", "v2.0.0-rc1-3-gdef5678", "2.0.0~rc1+git3.def5678"},
		{"no tag", "0abc123", "0.0.0~git12.0abc123"},
		{"no tag, dirty", "0abc123-dirty", "0.0.0~git12.0abc123.dirty"},
		{"tag not a version", "release-3-gabc1234", "0.0.0~git12.0abc123"},
		{"not a git tree", "", "0.0.0~dev"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := strings.TrimSpace(buildScript(t, append(env, "FAKE_DESCRIBE="+tc.describe), "--print-version"))
			if got != tc.want {
				t.Errorf("describe %q: version %q, want %q", tc.describe, got, tc.want)
			}
			if !safeVersionRE.MatchString(got) {
				t.Errorf("version %q is not Debian/RPM-safe", got)
			}
			if out, err := exec.CommandContext(t.Context(), "dpkg", "--validate-version", got).CombinedOutput(); err != nil {
				t.Errorf("dpkg --validate-version %q: %v %s", got, err, out)
			}
		})
	}
	// Pre-releases sort before their release, later commits after it.
	for _, c := range [][3]string{{"2.0.0~rc1", "lt", "2.0.0"}, {"1.2.3+git4.abc1234", "gt", "1.2.3"}} {
		t.Run(strings.Join(c[:], " "), func(t *testing.T) {
			if err := exec.CommandContext(t.Context(), "dpkg", "--compare-versions", c[0], c[1], c[2]).Run(); err != nil {
				t.Errorf("dpkg --compare-versions %s: false", strings.Join(c[:], " "))
			}
		})
	}
}
