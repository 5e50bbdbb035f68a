package faults_test

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/serialpass/serialpass/internal/testbed"
)

// Shortened fault windows: the 120 s and 30 s, scaled down so the
// default suite stays fast. boot_timeout and interval come from the config
// file, as an AMI owner would set them.
const (
	imdsDown     = 6 * time.Second
	readyAfterUp = 5 * time.Second
	// askedAfterUp bounds the agent's own part of readyAfterUp: it asks
	// instance metadata again at most 2 s (agent.WaitIdentity's longest
	// wait) after the last refusal, plus the SDK's quick retries.
	askedAfterUp  = 3 * time.Second
	throttledFor  = 5 * time.Second
	readyAfterSM  = 8 * time.Second
	password      = "Fault-Tolerant-Pw-1"
	consoleSecret = "fleet/console"
)

// TestIMDSRefusesAtBoot: instance metadata refuses connections for the
// first seconds of boot, then answers. `serialpass once` waits for it (up
// to boot_timeout) and is ready within readyAfterUp of it coming back.
func TestIMDSRefusesAtBoot(t *testing.T) {
	testbed.Exclusive(t)
	in := newInstance(t, "i-0fa017000000000a1", map[string]string{"serialpass:secret": consoleSecret})
	in.moto.CreateSecret(t, consoleSecret, password)
	cfg := in.config("boot_timeout: 1m\n")

	if err := in.imds.Refuse(); err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	p := in.start("once", "--config", cfg)
	select {
	case <-p.done:
		t.Fatalf("once exited while IMDS was down (%v): %s", p.err, p.stderr.String())
	case <-time.After(imdsDown):
	}
	in.imds.Reset() // nothing was answered while refusing
	if err := in.imds.Resume(); err != nil {
		t.Fatal(err)
	}
	up := time.Now()
	asked := make(chan time.Duration, 1)
	go func() { asked <- firstAnswer(in.imds.Counts, up, p.done) }()
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("once still running 30 s after IMDS came back; stderr: %s", p.stderr.String())
	}
	took, askedAt := time.Since(up), <-asked
	t.Logf("IMDS down %v; once asked again %v and was ready %v after it came back (%v in all)", imdsDown,
		askedAt.Round(time.Millisecond), took.Round(time.Millisecond), time.Since(begin).Round(time.Millisecond))
	if p.err != nil {
		t.Fatalf("once: %v; stderr: %s", p.err, p.stderr.String())
	}
	// The agent's own part first: asking again soon; then the pass.
	if askedAt >= askedAfterUp {
		t.Errorf("asked IMDS again %v after it came back, want < %v", askedAt, askedAfterUp)
	}
	if took >= readyAfterUp {
		t.Errorf("ready %v after IMDS came back, want < %v (the pass took %v after IMDS answered)", took, readyAfterUp, took-askedAt)
	}
	if !strings.Contains(p.stdout.String(), "serialpass: ready") {
		t.Errorf("stdout = %q", p.stdout.String())
	}
	if !testbed.VerifyPassword(t, testbed.ShadowHash(t, in.root, "ec2-serial"), password) {
		t.Error("the password in the sandbox does not verify")
	}
	if got := in.moto.InstanceTags(t, in.id)["serialpass:status"]; got != "ready" {
		t.Errorf("status tag = %q, want ready", got)
	}
}

// TestSecretsManagerThrottled: GetSecretValue answers ThrottlingException
// for the first seconds. `serialpass run` retries with backoff, reports the
// error once (one CreateTags however many passes fail alike), and becomes
// ready when the throttling ends.
func TestSecretsManagerThrottled(t *testing.T) {
	testbed.Exclusive(t)
	in := newInstance(t, "i-0fa017000000000b2", map[string]string{"serialpass:secret": consoleSecret})
	in.moto.CreateSecret(t, consoleSecret, password)
	cfg := in.config("boot_timeout: 1m\ninterval: 1s\n")

	in.proxy.FailUntil("GetSecretValue", time.Now().Add(throttledFor))
	end := time.Now().Add(throttledFor)
	p := in.start("run", "--config", cfg)

	var readyAt time.Time
	for deadline := end.Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		select {
		case <-p.done:
			t.Fatalf("run exited (%v): %s", p.err, p.stderr.String())
		default:
		}
		if in.moto.InstanceTags(t, in.id)["serialpass:status"] == "ready" {
			readyAt = time.Now()
			break
		}
	}
	if readyAt.IsZero() {
		t.Fatalf("not ready 30 s after the throttling ended; stderr:\n%s", p.stderr.String())
	}
	took := readyAt.Sub(end)
	counts := in.proxy.Counts()
	t.Logf("throttled %v; ready %v after it ended; API calls %v", throttledFor, took.Round(time.Millisecond), counts)
	if took > readyAfterSM {
		t.Errorf("ready %v after the throttling ended, want <= %v", took, readyAfterSM)
	}
	// Reported twice in all: the error once, then ready.
	if got := counts["CreateTags"]; got != 2 {
		t.Errorf("CreateTags = %d, want 2 (error once, then ready)", got)
	}
	// Backing off: the SDK makes 3 attempts per pass, and passes fail at
	// most about once a second; hammering would be far more.
	if got, most := counts["GetSecretValue"], 3*int(throttledFor/time.Second+3); got > most {
		t.Errorf("GetSecretValue = %d during %v of throttling, want <= %d", got, throttledFor, most)
	}
	if got := counts["GetSecretValue"]; got < 2 {
		t.Errorf("GetSecretValue = %d: the throttling was never hit", got)
	}

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		t.Fatal("run did not stop within 15 s of SIGTERM")
	}
	if p.err != nil {
		t.Errorf("run exit: %v", p.err)
	}
	logs := p.stderr.String()
	if n := strings.Count(logs, `msg="pass failed"`); n != 1 {
		t.Errorf("logged the failure %d times, want once:\n%s", n, logs)
	}
	if !strings.Contains(logs, "after_failures=") {
		t.Errorf("recovery not logged:\n%s", logs)
	}
	if strings.Contains(logs, password) {
		t.Error("the password appears in the logs")
	}
	if !testbed.VerifyPassword(t, testbed.ShadowHash(t, in.root, "ec2-serial"), password) {
		t.Error("the password in the sandbox does not verify")
	}
}

// firstAnswer polls the emulator's request counts from up until one is
// answered, and returns how long after up that was (the time until done,
// if none was).
func firstAnswer(counts func() map[string]int, up time.Time, done <-chan struct{}) time.Duration {
	for {
		for _, n := range counts() {
			if n > 0 {
				return time.Since(up)
			}
		}
		select {
		case <-done:
			return time.Since(up)
		case <-time.After(10 * time.Millisecond):
		}
	}
}
