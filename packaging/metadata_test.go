package packaging_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const (
	// debDepends and rpmRequires name shadow-utils (useradd, usermod,
	// chpasswd), which the agent runs: Debian's passwd package, RPM's
	// shadow-utils.
	debDepends  = "passwd"
	rpmRequires = "shadow-utils"
	readmePath  = "/usr/share/doc/serialpass/README.md"
)

// checkDebMeta checks the .deb's dependencies, its README and that the
// lintian overrides' justifications hold.
func checkDebMeta(t *testing.T, deb string, files map[string]string) {
	t.Helper()
	t.Run("depends", func(t *testing.T) {
		if got := strings.TrimSpace(run(t, nil, "dpkg-deb", "-f", deb, "Depends")); got != debDepends {
			t.Errorf("Depends: %q, want %q", got, debDepends)
		}
	})
	t.Run("readme", func(t *testing.T) {
		if got := files[strings.TrimPrefix(readmePath, "/")]; got != readRepoFile(t, "README.md") {
			t.Errorf("%s is not the repository's README.md (%d bytes)", readmePath, len(got))
		}
	})
	t.Run("no-manual-page override", func(t *testing.T) {
		// The justification says the manual is the README: it must name
		// a file this package ships.
		override := files["usr/share/lintian/overrides/serialpass"]
		if !strings.Contains(override, "serialpass: no-manual-page") {
			t.Fatalf("no no-manual-page override:\n%s", override)
		}
		named := regexp.MustCompile(`/usr/share/doc/serialpass/\S+`).FindAllString(override, -1)
		if len(named) == 0 {
			t.Errorf("the no-manual-page justification names no shipped document:\n%s", override)
		}
		for _, p := range named {
			if _, ok := files[strings.TrimPrefix(strings.TrimRight(p, ".,;"), "/")]; !ok {
				t.Errorf("the override names %s, which the .deb does not ship", p)
			}
		}
	})
}

// checkRPMMeta checks the .rpm's requirements and its doc and license
// flags; flags is rpm's "[%{FILENAMES}=%{FILEFLAGS:fflags}\n]" output.
func checkRPMMeta(t *testing.T, rpmFile, flags string) {
	t.Helper()
	t.Run("requires", func(t *testing.T) {
		reqs := strings.Split(run(t, nil, "rpm", "-qpR", rpmFile), "\n")
		for i := range reqs {
			reqs[i] = strings.TrimSpace(reqs[i])
		}
		if !slices.Contains(reqs, rpmRequires) {
			t.Errorf("rpm -qpR lacks %q:\n%s", rpmRequires, strings.Join(reqs, "\n"))
		}
	})
	for _, tc := range []struct{ name, want string }{
		{"readme is %doc", readmePath + "=d"},
		{"copyright is %license", "/usr/share/doc/serialpass/copyright=l"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !slices.Contains(strings.Split(flags, "\n"), tc.want) {
				t.Errorf("rpm file flags lack %q:\n%s", tc.want, flags)
			}
		})
	}
}

func readRepoFile(t *testing.T, rel string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
