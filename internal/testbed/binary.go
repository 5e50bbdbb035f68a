package testbed

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
)

var serialpassBuild struct {
	once sync.Once
	path string
	out  []byte
	err  error
}

// Serialpass builds cmd/serialpass once per test binary, as `make build`
// does (static, trimmed), and returns the path of the executable.
func Serialpass(t TB) string {
	t.Helper()
	b := &serialpassBuild
	b.once.Do(func() {
		dir, err := os.MkdirTemp("", "serialpass-bin-")
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(dir, "serialpass")
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-X main.version=test", "-o", b.path, "./cmd/serialpass")
		cmd.Dir = RepoRoot(t)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		b.out, b.err = cmd.CombinedOutput()
	})
	if b.err != nil {
		t.Fatalf("building serialpass: %v\n%s", b.err, b.out)
	}
	return b.path
}
