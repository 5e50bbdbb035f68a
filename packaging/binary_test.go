package packaging_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// emulators runs a packaged binary of another architecture on this
// machine: qemu's user-mode emulator (Debian's qemu-user-static), so that
// the arm64 build Graviton fleets install is run, not only inspected.
var emulators = map[string][]string{
	"amd64": nil,
	"arm64": {"qemu-aarch64-static"},
}

// checkRuns runs the packaged binary (natively or under emulation): its
// version must be the package's, and a command's help must work.
func checkRuns(t *testing.T, data, goarch, version string) {
	t.Helper()
	prefix, ok := emulators[goarch]
	if !ok {
		t.Fatalf("no way to run a %s binary here", goarch)
	}
	if len(prefix) > 0 {
		if _, err := exec.LookPath(prefix[0]); err != nil {
			t.Fatalf("%s not found: apt-get install qemu-user-static (tools/system-deps.sh does)", prefix[0])
		}
	}
	bin := filepath.Join(t.TempDir(), "serialpass")
	if err := os.WriteFile(bin, []byte(data), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"version"}, version},
		{[]string{"once", "--help"}, "Usage: serialpass once"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		argv := append(append(append([]string(nil), prefix...), bin), tc.args...)
		out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
		cancel()
		if err != nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("%s %s: %v\n%s\nwant %q in the output", goarch, strings.Join(tc.args, " "), err, out, tc.want)
		}
	}
}
