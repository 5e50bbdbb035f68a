package e2e_test

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/serialpass/serialpass/internal/testbed"
)

// waitFor polls cond every 50 ms until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRunDaemon: `serialpass run` with interval 1s. Steady passes cost one
// Secrets Manager call and no CreateTags, and instance metadata sees only
// the tag reads; a new secret version is applied within an interval.
func TestRunDaemon(t *testing.T) {
	const pw1, pw2 = "Daemon-Pass-One1", "Daemon-Pass-Two2"
	w := newWorld(t, nil, instanceID, map[string]string{"serialpass:secret": "fleet/console"})
	w.moto.CreateSecret(t, "fleet/console", pw1)
	cmd := w.start("run", "--config", w.config("interval: 1s\n"))
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})

	waitFor(t, 30*time.Second, "first pass ready", func() bool {
		return w.proxy.Count("CreateTags") == 1
	})
	if !testbed.VerifyPassword(t, testbed.ShadowHash(t, w.root, "ec2-serial"), pw1) {
		t.Fatal("password does not verify after the first pass")
	}

	t.Run("steady passes", func(t *testing.T) {
		w.proxy.Reset()
		w.imds.Reset()
		time.Sleep(5500 * time.Millisecond) // about five passes of 1 s ±10%
		calls := w.proxy.Counts()
		passes := calls["GetSecretValue"]
		if passes < 4 || passes > 7 {
			t.Errorf("%d passes in 5.5 s with interval 1s, want 4 to 7", passes)
		}
		if len(calls) != 1 {
			t.Errorf("AWS calls = %v, want only GetSecretValue", calls)
		}
		for req, n := range w.imds.Counts() {
			if !strings.Contains(req, "/tags/instance") && !strings.Contains(req, "/api/token") {
				t.Errorf("IMDS %s called %d times in steady passes", req, n)
			}
		}
	})
	t.Run("a new version is applied within an interval", func(t *testing.T) {
		w.moto.PutSecret(t, "fleet/console", pw2)
		waitFor(t, 3*time.Second, "new password applied", func() bool {
			return testbed.VerifyPassword(t, testbed.ShadowHash(t, w.root, "ec2-serial"), pw2)
		})
	})
	t.Run("SIGTERM exits cleanly within 10 s", func(t *testing.T) {
		start := time.Now()
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-exited:
			exited <- err // for the cleanup
			if err != nil {
				t.Errorf("run exited with %v", err)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("exit took %s", d)
			}
		case <-time.After(12 * time.Second):
			t.Fatal("still running 12 s after SIGTERM")
		}
	})
}

// TestRunSIGHUP: with a long interval, SIGHUP runs a pass now.
func TestRunSIGHUP(t *testing.T) {
	w := newWorld(t, nil, instanceID, map[string]string{"serialpass:secret": "fleet/console"})
	w.moto.CreateSecret(t, "fleet/console", "Hangup-Pass-1")
	cmd := w.start("run", "--config", w.config("interval: 1h\n"))
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitFor(t, 30*time.Second, "first pass", func() bool { return w.proxy.Count("GetSecretValue") == 1 })
	for i := 2; i <= 3; i++ {
		if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Second, "a pass after SIGHUP", func() bool { return w.proxy.Count("GetSecretValue") == i })
	}
}
