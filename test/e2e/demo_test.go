package e2e_test

import (
	"context"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/serialpass/serialpass/internal/testbed"
)

// demoTimeout bounds `make demo`: it takes about 4 s with warm build
// caches (the build, moto's start and four passes).
const demoTimeout = 2 * time.Minute

// TestDemo runs the README's first command, `make demo`, as a person would
// in the repository, and checks that what it shows is what the README
// promises: the password set and verified, the status tags written, a
// steady pass that writes nothing, a new version applied and a bad secret
// refused.
func TestDemo(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatalf("make not found: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), demoTimeout)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, "make", "--no-print-directory", "demo")
	cmd.Dir = testbed.RepoRoot(t)
	// A make of its own, not a sub-make of the one running the tests.
	cmd.Env = testbed.EnvWithout("MAKEFLAGS", "MFLAGS", "MAKELEVEL")
	out, err := cmd.CombinedOutput()
	t.Logf("make demo took %s", time.Since(start).Round(100*time.Millisecond))
	if err != nil {
		t.Fatalf("make demo: %v\n%s", err, out)
	}
	text := string(out)

	created := regexp.MustCompile(`secret demo/console created, version (\S+)`).FindStringSubmatch(text)
	if created == nil {
		t.Fatalf("make demo did not say which secret version it created:\n%s", text)
	}
	v1 := regexp.QuoteMeta(created[1])
	for _, tc := range []struct {
		name, section, want string
	}{
		{"first pass succeeds", "first pass", `(?m)^\s+exit 0$`},
		{"password verifies", "first pass", `(?m)^\s+password verifies \(crypt\(3\) via perl, stdin\):\s+yes$`},
		{"status tag ready", "first pass", `(?m)^\s+serialpass:status="ready"$`},
		{"version tag written", "first pass", `(?m)^\s+serialpass:status:version="` + v1 + `"$`},
		{"tags written once", "first pass", `(?m)^\s+API calls:\s+map\[CreateTags:1 GetSecretValue:1\]$`},
		{"steady pass leaves shadow", "second pass", `(?m)^\s+etc/shadow unchanged:\s+yes$`},
		{"steady pass writes no tags", "second pass", `(?m)^\s+API calls:\s+map\[GetSecretValue:1\]$`},
		{"new password verifies", "a new AWSCURRENT version", `(?m)^\s+new password verifies:\s+yes$`},
		{"version tag follows", "a new AWSCURRENT version", `(?m)^\s+status version tag:\s+(\S+) \(want (\S+)\)$`},
		{"bad secret refused", "a bad secret", `(?m)^\s+exit 1$`},
		{"bad secret leaves shadow", "a bad secret", `(?m)^\s+etc/shadow unchanged:\s+yes$`},
		{"bad secret reported", "a bad secret", `(?m)^\s+serialpass:status="error"$`},
		{"demo ends", "a bad secret", `(?m)^demo done`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sec := demoSection(text, tc.section)
			if sec == "" {
				t.Fatalf("no section %q in the demo's output:\n%s", tc.section, text)
			}
			m := regexp.MustCompile(tc.want).FindStringSubmatch(sec)
			switch {
			case m == nil:
				t.Errorf("section %q lacks %s:\n%s", tc.section, tc.want, sec)
			case len(m) == 3 && m[1] != m[2]:
				t.Errorf("section %q: %q is not %q:\n%s", tc.section, m[1], m[2], sec)
			}
		})
	}
	t.Run("password never shown", func(t *testing.T) {
		// The demo's passwords start "Demo-" (internal/demo randomPassword).
		if strings.Contains(text, "Demo-") {
			t.Errorf("the demo printed a password:\n%s", text)
		}
	})
}

// demoSection returns the part of the demo's output under the "== "
// heading that starts with prefix, up to the next heading.
func demoSection(text, prefix string) string {
	for _, sec := range strings.Split(text, "\n== ") {
		if strings.HasPrefix(sec, prefix) {
			return sec
		}
	}
	return ""
}
