package e2e_test

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"sync"
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

// tagListing is the instance metadata path a pass lists tags from, once
// per pass.
const tagListing = "GET /latest/meta-data/tags/instance"

// TestRunDaemon: `serialpass run` with interval 1s. Steady passes cost one
// Secrets Manager call and no CreateTags, and instance metadata sees only
// the tag reads; a new secret version is applied by the next pass.
func TestRunDaemon(t *testing.T) {
	const pw1, pw2 = "Daemon-Pass-One1", "Daemon-Pass-Two2"
	w := newWorld(t, nil, instanceID, map[string]string{"serialpass:secret": "fleet/console"})
	w.moto.CreateSecret(t, "fleet/console", pw1)
	calls := watchCalls(t, w.proxy)
	start := time.Now()
	cmd := w.start("run", "--config", w.config("interval: 1s\n"))
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})

	calls.await(t, "call CreateTags", start, 30*time.Second) // the first pass's report
	waitFor(t, 5*time.Second, "first pass ready", func() bool {
		return w.moto.InstanceTags(t, instanceID)["serialpass:status"] == "ready"
	})
	if !testbed.VerifyPassword(t, testbed.ShadowHash(t, w.root, "ec2-serial"), pw1) {
		t.Fatal("password does not verify after the first pass")
	}

	t.Run("steady passes: one GetSecretValue each, no CreateTags", func(t *testing.T) {
		// Counts are taken as moto answers a pass's GetSecretValue: that
		// pass has listed the tags, and the next starts about 1 s later.
		last := calls.await(t, "answer GetSecretValue", time.Now(), 5*time.Second)
		w.proxy.Reset()
		w.imds.Reset()
		first := last
		const passes = 5
		for range passes {
			last = calls.await(t, "answer GetSecretValue", last, 3*time.Second)
		}
		aws, imds := w.proxy.Counts(), w.imds.Counts()
		if d := last.Sub(first); d < 4*time.Second || d > 7*time.Second {
			t.Errorf("%d GetSecretValue answers took %s, want about %d passes of 1 s ±10%%", passes, d, passes)
		}
		if aws["GetSecretValue"] != passes || imds[tagListing] != passes {
			t.Errorf("%d GetSecretValue for %d tag listings, want %d of each: one per pass", aws["GetSecretValue"], imds[tagListing], passes)
		}
		if aws["CreateTags"] != 0 || len(aws) != 1 {
			t.Errorf("AWS calls = %v, want only GetSecretValue and no CreateTags", aws)
		}
		for req, n := range imds {
			if !strings.Contains(req, "/tags/instance") && !strings.Contains(req, "/api/token") {
				t.Errorf("IMDS %s called %d times in steady passes", req, n)
			}
		}
	})
	t.Run("a new version is applied by the next pass", func(t *testing.T) {
		w.moto.PutSecret(t, "fleet/console", pw2)
		put := time.Now()
		read := calls.await(t, "call GetSecretValue", put, 3*time.Second)
		if d := read.Sub(put); d > 1500*time.Millisecond {
			t.Errorf("first GetSecretValue %s after the new version, want within an interval (1 s ±10%%)", d)
		}
		// That pass reports the new version once it has applied it.
		calls.await(t, "call CreateTags", read, 3*time.Second)
		if !testbed.VerifyPassword(t, testbed.ShadowHash(t, w.root, "ec2-serial"), pw2) {
			t.Error("the pass that read the new version did not apply it")
		}
	})
	t.Run("SIGTERM exits cleanly within 10 s", func(t *testing.T) {
		terminate(t, cmd, exited)
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

// TestRunSIGTERMInFlight: SIGTERM while a pass waits on GetSecretValue,
// held at the proxy. A pass whose call is answered in the grace finishes
// its write; one whose call never returns is cancelled. Either way the
// process exits within 10 s, the state file is whole and the local hash
// verifies a password the pass could have set.
func TestRunSIGTERMInFlight(t *testing.T) {
	const pw1, pw2 = "Term-Pass-One1", "Term-Pass-Two2"
	moto := testbed.StartMoto(t)
	for i, tt := range []struct {
		name string
		hold time.Duration   // how long the held call waits after SIGTERM
		then testbed.Verdict // what becomes of it
		want string          // the password the hash verifies at exit
	}{
		{"answered in the grace: the pass finishes its write", time.Second, testbed.Forward, pw2},
		{"never answered: the pass is cancelled", 15 * time.Second, testbed.Drop, pw1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			secret := fmt.Sprintf("fleet/term-%d", i)
			w := newWorld(t, moto, fmt.Sprintf("i-0e2e00000000f%04d", i), map[string]string{"serialpass:secret": secret})
			moto.CreateSecret(t, secret, pw1)
			cmd := w.start("run", "--config", w.config("interval: 1s\n"))
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			t.Cleanup(func() {
				cmd.Process.Kill()
				<-exited
			})
			waitFor(t, 30*time.Second, "first pass reported", func() bool { return w.proxy.Count("CreateTags") == 1 })

			held, release := make(chan struct{}), make(chan struct{})
			t.Cleanup(func() { close(release) })
			var once sync.Once
			w.proxy.OnRequest(func(action string) testbed.Verdict {
				first := false
				if action == "GetSecretValue" {
					once.Do(func() { first = true })
				}
				if !first {
					return testbed.Forward
				}
				close(held)
				select {
				case <-time.After(tt.hold):
					return tt.then
				case <-release:
					return testbed.Drop
				}
			})
			t.Cleanup(func() { w.proxy.OnRequest(nil) })
			moto.PutSecret(t, secret, pw2)
			select {
			case <-held:
			case <-time.After(5 * time.Second):
				t.Fatal("no pass reached GetSecretValue")
			}
			terminate(t, cmd, exited)
			if st := w.read("var/lib/serialpass/state.json"); !json.Valid([]byte(st)) {
				t.Error("state.json is not valid JSON after the stop")
			}
			if !testbed.VerifyPassword(t, testbed.ShadowHash(t, w.root, "ec2-serial"), tt.want) {
				t.Errorf("the local hash does not verify the password wanted (%s)", map[string]string{pw1: "the old one", pw2: "the new one"}[tt.want])
			}
		})
	}
}

// terminate sends SIGTERM to `serialpass run` and expects a clean exit in
// under 10 s. exited carries cmd.Wait's result; it is put back for the
// test's cleanup.
func terminate(t *testing.T, cmd *exec.Cmd, exited chan error) {
	t.Helper()
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		exited <- err
		if d := time.Since(start); d >= 10*time.Second {
			t.Errorf("exit took %s after SIGTERM, want under 10 s", d)
		}
		if err != nil {
			t.Errorf("run exited with %v", err)
		}
	case <-time.After(12 * time.Second):
		t.Fatal("still running 12 s after SIGTERM")
	}
}
