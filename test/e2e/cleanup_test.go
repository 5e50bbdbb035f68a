package e2e_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/serialpass/serialpass/internal/testbed"
)

// TestCleanupLocksAndReinstallUnlocks removes serialpass (`serialpass
// cleanup`, as package removal runs it) after a pass: the console-only lines
// go, and the password is locked rather than left to work over SSH. A
// later install's first pass applies the secret again: unlocked, the hash
// verifying AWSCURRENT, no new version made.
func TestCleanupLocksAndReinstallUnlocks(t *testing.T) {
	moto := testbed.StartMoto(t)
	for _, tc := range []struct {
		name, instance string
		tags           map[string]string
		setup          func(w *world)
		// current is the password the hash must verify.
		current func(w *world) string
	}{
		{"pull", "i-0e2e0000000000f01", map[string]string{"serialpass:secret": "fleet/cleanup"},
			func(w *world) { w.moto.CreateSecret(t, "fleet/cleanup", "Cl3anup-Pw-0123") },
			func(w *world) string { return "Cl3anup-Pw-0123" }},
		{"rotate", "i-0e2e0000000000f02", rotateTags, func(*world) {},
			func(w *world) string { pw, _ := w.stagePassword("AWSCURRENT"); return pw }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, moto, tc.instance, tc.tags)
			tc.setup(w)
			if code, _, errOut := w.once(); code != 0 {
				t.Fatalf("first pass: %s", errOut)
			}
			pw := tc.current(w)
			versions := 0
			if tc.name == "rotate" {
				_, versions = w.checkRotateInvariant()
			}
			code, out, errOut := w.run("cleanup")
			if code != 0 || !strings.Contains(out, "locked the password of ec2-serial") {
				t.Fatalf("cleanup exited %d: %s%s", code, out, errOut)
			}
			hash := testbed.ShadowHash(t, w.root, "ec2-serial")
			if !strings.HasPrefix(hash, "!") || testbed.VerifyPassword(t, hash, pw) {
				t.Errorf("after cleanup the hash %.3s… is not locked", hash)
			}
			if strings.Contains(w.read("etc/security/access.conf"), "ec2-serial") {
				t.Error("cleanup left the access.conf block")
			}
			if _, err := os.Stat(filepath.Join(w.root, "home/ec2-serial")); err != nil {
				t.Errorf("cleanup took the home directory: %v", err)
			}
			if code, _, errOut := w.run("cleanup"); code != 0 {
				t.Errorf("a second cleanup exited %d: %s", code, errOut)
			}

			if code, _, errOut := w.once(); code != 0 {
				t.Fatalf("the reinstalled agent's first pass: %s", errOut)
			}
			hash = testbed.ShadowHash(t, w.root, "ec2-serial")
			if strings.HasPrefix(hash, "!") || !testbed.VerifyPassword(t, hash, tc.current(w)) {
				t.Errorf("after the next pass the hash %.3s… does not verify AWSCURRENT", hash)
			}
			if tc.name == "rotate" {
				if _, n := w.checkRotateInvariant(); n != versions {
					t.Errorf("%d secret versions after the reinstall, want %d (no rotation)", n, versions)
				}
			}
			if got := w.moto.InstanceTags(t, w.instance)["serialpass:status"]; got != "ready" {
				t.Errorf("status tag %q, want ready", got)
			}
			if !strings.Contains(w.read("etc/security/access.conf"), "ec2-serial") {
				t.Error("the next pass did not put console-only login back")
			}
		})
	}
}
