package daemon

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/serialpass/serialpass/agent"
)

// guard bounds every wait of a test on the loop, in real time.
const guard = 5 * time.Second

// fakeClock hands each Sleep to the test, which decides when it ends.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps chan *sleepCall
}

type sleepCall struct {
	d    time.Duration
	ctx  context.Context
	fire chan struct{}
}

func newFakeClock() *fakeClock {
	return &fakeClock{
		now:    time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC),
		sleeps: make(chan *sleepCall),
	}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	call := &sleepCall{d: d, ctx: ctx, fire: make(chan struct{})}
	select {
	case c.sleeps <- call:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-call.fire:
		c.mu.Lock()
		c.now = c.now.Add(d)
		c.mu.Unlock()
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// nextSleep waits for the loop to sleep.
func (c *fakeClock) nextSleep(t *testing.T) *sleepCall {
	t.Helper()
	select {
	case s := <-c.sleeps:
		return s
	case <-time.After(guard):
		t.Fatal("the loop did not sleep")
		return nil
	}
}

// fakePass hands each pass to the test, which answers it.
type fakePass struct {
	calls chan *passCall
}

type passCall struct {
	ctx   context.Context
	reply chan agent.Result
}

func newFakePass() *fakePass { return &fakePass{calls: make(chan *passCall)} }

func (p *fakePass) Pass(ctx context.Context) agent.Result {
	call := &passCall{ctx: ctx, reply: make(chan agent.Result)}
	select {
	case p.calls <- call:
	case <-ctx.Done():
		return failed("", ctx.Err())
	}
	select {
	case res := <-call.reply:
		return res
	case <-ctx.Done():
		return failed("", ctx.Err())
	}
}

// next waits for the loop to start a pass.
func (p *fakePass) next(t *testing.T) *passCall {
	t.Helper()
	select {
	case c := <-p.calls:
		return c
	case <-time.After(guard):
		t.Fatal("the loop did not run a pass")
		return nil
	}
}

// answer runs the next pass with result res.
func (p *fakePass) answer(t *testing.T, res agent.Result) {
	t.Helper()
	p.next(t).reply <- res
}

// fakeNotifier records what the loop tells the service manager.
type fakeNotifier struct {
	mu     sync.Mutex
	states []string
}

func (n *fakeNotifier) Notify(state string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.states = append(n.states, state)
	return nil
}

func (n *fakeNotifier) all() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.states...)
}

// logBuffer is a goroutine-safe log sink.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// count returns the number of lines containing all of subs.
func (b *logBuffer) count(subs ...string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for line := range strings.Lines(b.buf.String()) {
		ok := true
		for _, s := range subs {
			ok = ok && strings.Contains(line, s)
		}
		if ok {
			n++
		}
	}
	return n
}

// harness runs a Loop over fakes.
type harness struct {
	loop   *Loop
	clock  *fakeClock
	pass   *fakePass
	notify *fakeNotifier
	logs   *logBuffer
	wake   chan struct{}
	cancel context.CancelFunc
	done   chan error
}

func newHarness(t *testing.T, edit func(*Loop)) *harness {
	t.Helper()
	h := &harness{
		clock:  newFakeClock(),
		pass:   newFakePass(),
		notify: &fakeNotifier{},
		logs:   &logBuffer{},
		wake:   make(chan struct{}, 1),
		done:   make(chan error, 1),
	}
	h.loop = &Loop{
		Pass:     h.pass.Pass,
		Interval: 15 * time.Minute,
		Clock:    h.clock,
		Notifier: h.notify,
		Log:      slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Wake:     h.wake,
		Rand:     func() float64 { return 0.5 }, // no jitter unless a test asks
		// Short, so a test that ends during a pass does not wait long.
		StopGrace:    50 * time.Millisecond,
		AbandonAfter: 50 * time.Millisecond,
	}
	if edit != nil {
		edit(h.loop)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- h.loop.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-h.done:
		case <-time.After(guard):
			t.Error("Run did not return at cleanup")
		}
	})
	return h
}

// wait returns Run's error, failing if it does not return in time.
func (h *harness) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-h.done:
		h.done <- err // for the cleanup
		return err
	case <-time.After(guard):
		t.Fatal("Run did not return")
		return nil
	}
}

var (
	ready    = agent.Result{Status: agent.StatusReady, User: "ec2-serial", VersionID: "v1"}
	disabled = agent.Result{Status: agent.StatusDisabled}
)

func failed(reason string, cause error) agent.Result {
	err := cause
	if reason != "" {
		err = &reasonError{reason, cause}
	}
	return agent.Result{Status: agent.StatusError, Reason: reason, Err: err}
}

type reasonError struct {
	reason string
	cause  error
}

func (e *reasonError) Error() string { return e.reason }
func (e *reasonError) Unwrap() error { return e.cause }
