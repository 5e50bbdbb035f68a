//go:build unix

package agent

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestFileStateLock(t *testing.T) {
	f := NewFileState(t.TempDir())
	unlock, err := f.Lock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Run("a second holder waits", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
		defer cancel()
		if _, err := f.Lock(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Lock while held = %v, want a deadline error", err)
		}
	})
	t.Run("released on unlock", func(t *testing.T) {
		unlock()
		u2, err := f.Lock(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		u2()
	})
}
