package testbed

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestSweepBinDirs: a build directory goes once its owner is gone (its
// flock is free), not while a process holds it or while it is young.
func TestSweepBinDirs(t *testing.T) {
	parent := t.TempDir()
	old := time.Now().Add(-2 * binDirGrace)
	mk := func(t *testing.T, locked, young bool) string {
		dir, lock, err := lockedTempDir(parent)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "serialpass"), []byte("x"), 0o755); err != nil {
			t.Fatal(err)
		}
		if locked {
			t.Cleanup(func() { lock.Close() })
		} else {
			lock.Close() // as when its process exited
		}
		if !young {
			if err := os.Chtimes(dir, old, old); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	for _, tt := range []struct {
		name          string
		locked, young bool
		wantKept      bool
	}{
		{"abandoned", false, false, false},
		{"held by a live process", true, false, true},
		{"young, maybe not locked yet", false, true, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := mk(t, tt.locked, tt.young)
			sweepBinDirs(parent, time.Now())
			_, err := os.Stat(dir)
			if kept := err == nil; kept != tt.wantKept {
				t.Errorf("kept = %v, want %v (%v)", kept, tt.wantKept, err)
			}
		})
	}
	t.Run("other names stay", func(t *testing.T) {
		other := filepath.Join(parent, "serialpass-bin-legacy")
		if err := os.Mkdir(other, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(other, old, old); err != nil {
			t.Fatal(err)
		}
		sweepBinDirs(parent, time.Now())
		if _, err := os.Stat(other); err != nil {
			t.Errorf("swept a directory it does not own: %v", err)
		}
	})
}
