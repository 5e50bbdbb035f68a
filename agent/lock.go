//go:build unix

package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Locker is a StateStore that can keep other processes out while a pass
// runs. Lock waits until it holds the lock or ctx ends.
type Locker interface {
	Lock(ctx context.Context) (unlock func(), err error)
}

var _ Locker = FileState{}

// lockPoll is how often Lock retries a lock held by another process.
const lockPoll = 50 * time.Millisecond

// Lock takes an exclusive flock(2) on a file next to the state file. The
// kernel releases it when the process dies, so a crash never leaves it
// held.
func (f FileState) Lock(ctx context.Context) (func(), error) {
	p := f.Path + ".lock"
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return nil, fmt.Errorf("locking the state: %w", err)
	}
	fd, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("locking the state: %w", err)
	}
	for {
		err := syscall.Flock(int(fd.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { fd.Close() }, nil // closing releases the lock
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			fd.Close()
			return nil, fmt.Errorf("locking %s: %w", p, err)
		}
		t := time.NewTimer(lockPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			fd.Close()
			return nil, fmt.Errorf("waiting for another serialpass pass to finish: %w", ctx.Err())
		case <-t.C:
		}
	}
}
