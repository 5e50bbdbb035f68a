package testbed

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

var serialpassBuild struct {
	once sync.Once
	path string
	out  []byte
	err  error
	// lock holds a shared flock on the build's directory for as long as
	// the process lives; it is never closed (and stays reachable, so no
	// finalizer closes it).
	lock *os.File
}

// Build directories: os.TempDir()/binDirPrefix*, one per test process.
// A process cannot remove its own when it exits (there is no hook for that
// without a TestMain in every package), so each build removes those of
// processes that are gone: their flock is free. A directory younger than
// binDirGrace is left alone, as its owner may not have locked it yet.
const (
	binDirPrefix = "serialpass-testbin-"
	binDirGrace  = time.Minute
)

// Serialpass builds cmd/serialpass once per test binary, as `make build`
// does (static, trimmed), and returns the path of the executable.
func Serialpass(t TB) string {
	t.Helper()
	b := &serialpassBuild
	b.once.Do(func() {
		sweepBinDirs(os.TempDir(), time.Now())
		dir, lock, err := lockedTempDir(os.TempDir())
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(dir, "serialpass")
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-X main.version=test", "-o", b.path, "./cmd/serialpass")
		cmd.Dir = RepoRoot(t)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		b.out, b.err = cmd.CombinedOutput()
		if b.err != nil {
			_ = lock.Close()
			_ = os.RemoveAll(dir)
			return
		}
		b.lock = lock
	})
	if b.err != nil {
		t.Fatalf("building serialpass: %v\n%s", b.err, b.out)
	}
	return b.path
}

// lockedTempDir makes a build directory under parent and takes a shared
// flock on it.
func lockedTempDir(parent string) (dir string, lock *os.File, err error) {
	dir, err = os.MkdirTemp(parent, binDirPrefix)
	if err != nil {
		return "", nil, fmt.Errorf("making a build directory: %w", err)
	}
	lock, err = os.Open(dir)
	if err == nil {
		err = syscall.Flock(int(lock.Fd()), syscall.LOCK_SH)
	}
	if err != nil {
		if lock != nil {
			_ = lock.Close()
		}
		_ = os.RemoveAll(dir)
		return "", nil, fmt.Errorf("locking build directory %q: %w", dir, err)
	}
	return dir, lock, nil
}

// sweepBinDirs removes the build directories under parent that no live
// process holds. It is best effort: what it cannot remove stays.
func sweepBinDirs(parent string, now time.Time) {
	dirs, _ := filepath.Glob(filepath.Join(parent, binDirPrefix+"*"))
	for _, d := range dirs {
		if fi, err := os.Lstat(d); err != nil || !fi.IsDir() || now.Sub(fi.ModTime()) < binDirGrace {
			continue
		}
		removeAbandoned(d)
	}
}

// removeAbandoned removes dir when no process holds its flock; it holds
// the lock itself while it removes.
func removeAbandoned(dir string) {
	f, err := os.Open(dir)
	if err != nil {
		return
	}
	defer f.Close()
	if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
		_ = os.RemoveAll(dir)
	}
}
