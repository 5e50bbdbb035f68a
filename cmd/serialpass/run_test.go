package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

type recordNotifier struct {
	mu     sync.Mutex
	states []string
}

func (n *recordNotifier) Notify(s string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.states = append(n.states, s)
	return nil
}

func TestWakeOn(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sig := make(chan os.Signal)
	wake := wakeOn(ctx, sig)
	sig <- syscall.SIGHUP
	sig <- syscall.SIGHUP // collapses into the pending wake-up
	select {
	case <-wake:
	case <-time.After(5 * time.Second):
		t.Fatal("SIGHUP did not wake")
	}
	select {
	case <-wake:
		t.Error("two signals while one wake-up was pending gave two wake-ups")
	default:
	}
	sig <- syscall.SIGHUP
	select {
	case <-wake:
	case <-time.After(5 * time.Second):
		t.Fatal("a later SIGHUP did not wake")
	}
}

func TestRunDaemonBuildFailure(t *testing.T) {
	t.Run("reports ready with the error, and fails", func(t *testing.T) {
		n := &recordNotifier{}
		opts := &commonOptions{root: t.TempDir(), configPath: filepath.Join(t.TempDir(), "missing.yaml")}
		var stderr bytes.Buffer
		err := runDaemon(context.Background(), opts, nil, n, &stderr)
		if err == nil {
			t.Fatal("runDaemon with a missing --config succeeded")
		}
		if len(n.states) != 1 || !strings.HasPrefix(n.states[0], "READY=1\nSTATUS=error: ") {
			t.Errorf("notified %q, want READY=1 with the error status", n.states)
		}
	})
	t.Run("stopped while building is a clean exit", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		opts := &commonOptions{root: t.TempDir(), configPath: filepath.Join(t.TempDir(), "missing.yaml")}
		var stderr bytes.Buffer
		if err := runDaemon(ctx, opts, nil, &recordNotifier{}, &stderr); err != nil {
			t.Errorf("runDaemon after stop = %v, want nil", err)
		}
	})
}
