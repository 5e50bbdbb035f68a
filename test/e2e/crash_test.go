package e2e_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/serialpass/serialpass/internal/testbed"
)

// crashIterations is per boundary: a few by default,
// SERIALPASS_CRASH_ITERATIONS for the full run (20).
func crashIterations(t *testing.T) int {
	if s := os.Getenv("SERIALPASS_CRASH_ITERATIONS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("SERIALPASS_CRASH_ITERATIONS=%q is not a positive number", s)
		}
		return n
	}
	return 3
}

// A rotation's calls through the proxy, in order: DescribeSecret,
// CreateTags (status rotating), PutSecretValue, UpdateSecretVersionStage
// (AWSCURRENT), UpdateSecretVersionStage (AWSPENDING off), CreateTags
// (status ready); chpasswd runs between PutSecretValue and the first
// UpdateSecretVersionStage.
const (
	put     = "PutSecretValue"
	stage   = "UpdateSecretVersionStage"
	tagCall = "CreateTags"
)

// Steps of a rotation in effect, counted in order.
const (
	landedNothing = iota
	landedPut     // the new version exists, in AWSPENDING
	landedLocal   // the local hash verifies the new password
	landedCurrent // AWSCURRENT is on the new version
	landedCleared // AWSPENDING is off it
)

// crashPoint is where the agent dies: at the call that completes seq (a
// subsequence of the rotation's calls). On its arrival the call is
// dropped, so "before X" never lets X land; with answered, the kill comes
// once moto has answered, before the answer goes back: X took effect and
// the agent never heard.
type crashPoint struct {
	name     string
	seq      []string
	answered bool
	landed   int    // steps in effect after the kill
	status   string // the status tag after the kill
}

var crashPoints = []crashPoint{
	{"before announcing rotating", []string{tagCall}, false, landedNothing, "ready"},
	{"after recording the token", []string{put}, false, landedNothing, "rotating"},
	{"after PutSecretValue", []string{put}, true, landedPut, "rotating"},
	{"after chpasswd", []string{put, stage}, false, landedLocal, "rotating"},
	{"after UpdateSecretVersionStage", []string{put, stage}, true, landedCurrent, "rotating"},
	{"after clearing AWSPENDING", []string{put, stage, stage}, true, landedCleared, "rotating"},
	{"before the report", []string{put, stage, stage, tagCall}, false, landedCleared, "rotating"},
}

// TestRotateCrashSafety kills the agent with SIGKILL at each step
// boundary, from outside: the proxy in front of moto kills it when a call
// arrives (and drops the call) or just before an answer goes back. After
// each kill it checks which steps landed; then one pass must restore the
// invariant, with one new version per rotation.
func TestRotateCrashSafety(t *testing.T) {
	moto := testbed.StartMoto(t)
	n := crashIterations(t)
	for i, c := range crashPoints {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t, moto, fmt.Sprintf("i-0e2e00000000c%04d", i), rotateTags)
			if code, _, errOut := w.once(); code != 0 {
				t.Fatalf("first pass: %s", errOut)
			}
			_, versions := w.checkRotateInvariant()
			for it := range n {
				w.ageState(11 * time.Minute)
				oldPw, oldCur := w.stagePassword("AWSCURRENT")
				w.rotateKilledAt(c)
				token := w.openToken()
				w.checkKilledAt(c, oldPw, oldCur, token, versions)
				if t.Failed() {
					t.Fatalf("iteration %d: wrong state after the kill", it)
				}
				if code, _, errOut := w.once(); code != 0 {
					t.Fatalf("iteration %d: pass after the kill exited %d: %s", it, code, errOut)
				}
				cur, now := w.checkRotateInvariant()
				if now != versions+1 {
					t.Errorf("iteration %d: %d versions after the rotation, want %d", it, now, versions+1)
				}
				if c.landed >= landedPut && cur != token {
					t.Errorf("iteration %d: AWSCURRENT is %s, want the recorded rotation's %s", it, cur, token)
				}
				versions = now
				if _, ok := w.state()["rotation"]; ok {
					t.Errorf("iteration %d: rotation still open", it)
				}
				if t.Failed() {
					return
				}
			}
		})
	}
}

// rotateKilledAt runs `serialpass rotate` and SIGKILLs it at c. The hook
// that kills waits until the agent is reaped before it lets the proxy go
// on, so the agent never reads an answer it should not have.
func (w *world) rotateKilledAt(c crashPoint) {
	w.t.Helper()
	pid := make(chan int, 1)
	dead := make(chan struct{})
	var mu sync.Mutex
	progress, fired := 0, false
	// at reports whether this event is c's, at most once.
	at := func(action string, answer bool) bool {
		mu.Lock()
		defer mu.Unlock()
		if fired {
			return false
		}
		if !answer && progress < len(c.seq) && action == c.seq[progress] {
			progress++
		}
		hit := progress == len(c.seq) && answer == c.answered && action == c.seq[len(c.seq)-1]
		fired = hit
		return hit
	}
	kill := func() {
		_ = syscall.Kill(<-pid, syscall.SIGKILL)
		select {
		case <-dead:
		case <-time.After(10 * time.Second):
		}
	}
	w.proxy.OnRequest(func(action string) testbed.Verdict {
		if at(action, false) {
			kill()
			return testbed.Drop
		}
		return testbed.Forward
	})
	w.proxy.OnResponse(func(action string, _ int) {
		if at(action, true) {
			kill()
		}
	})
	defer w.proxy.OnRequest(nil)
	defer w.proxy.OnResponse(nil)
	cmd := w.start("rotate")
	pid <- cmd.Process.Pid
	err := cmd.Wait()
	close(dead)
	mu.Lock()
	reached := fired
	mu.Unlock()
	var exit *exec.ExitError
	if !reached || !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		w.t.Fatalf("the agent exited (%v) without being killed at %q (reached: %v)", err, c.name, reached)
	}
}

// openToken is the token of the rotation the state file records.
func (w *world) openToken() string {
	w.t.Helper()
	rot, _ := w.state()["rotation"].(map[string]any)
	token, _ := rot["token"].(string)
	if token == "" {
		w.t.Fatal("no open rotation in the state file after the kill")
	}
	return token
}

// checkKilledAt checks what landed before the kill: the versions and
// labels in moto, the local hash and the status tag.
func (w *world) checkKilledAt(c crashPoint, oldPw, oldCur, token string, versions int) {
	w.t.Helper()
	stages := w.moto.SecretStages(w.t, w.secretName())
	wantVersions := versions
	if c.landed >= landedPut {
		wantVersions++
	}
	if len(stages) != wantVersions {
		w.t.Errorf("%d versions after the kill, want %d", len(stages), wantVersions)
	}
	current := ""
	for v, st := range stages {
		if slices.Contains(st, "AWSCURRENT") {
			current = v
		}
		wantPending := v == token && c.landed >= landedPut && c.landed < landedCleared
		if got := slices.Contains(st, "AWSPENDING"); got != wantPending {
			w.t.Errorf("version %s has labels %v: AWSPENDING %v, want %v", v, st, got, wantPending)
		}
	}
	if want := map[bool]string{true: token, false: oldCur}[c.landed >= landedCurrent]; current != want {
		w.t.Errorf("AWSCURRENT on %s after the kill, want %s", current, want)
	}
	hash := testbed.ShadowHash(w.t, w.root, "ec2-serial")
	if c.landed >= landedLocal {
		if !testbed.VerifyPassword(w.t, hash, w.versionPassword(token)) {
			w.t.Error("the local hash does not verify the new version after the kill")
		}
	} else if !testbed.VerifyPassword(w.t, hash, oldPw) {
		w.t.Error("the local hash does not verify the old AWSCURRENT after the kill")
	}
	if s := w.moto.InstanceTags(w.t, w.instance)["serialpass:status"]; s != c.status {
		w.t.Errorf("status tag %q after the kill, want %q", s, c.status)
	}
}

// versionPassword reads the password of one version straight from moto.
func (w *world) versionPassword(versionID string) string {
	w.t.Helper()
	value, _ := w.secretValue(&secretsmanager.GetSecretValueInput{VersionId: aws.String(versionID)}, "version "+versionID)
	var v struct{ Password string }
	if err := json.Unmarshal([]byte(value), &v); err != nil || v.Password == "" {
		w.t.Fatalf("version %s of %s holds no password (%v)", versionID, w.secretName(), err)
	}
	return v.Password
}
