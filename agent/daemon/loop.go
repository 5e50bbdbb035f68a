// Package daemon runs reconcile passes for the life of the instance: one at
// start, then one per interval with jitter, one on demand (SIGHUP), with
// exponential backoff after errors and a graceful stop. It tells the service
// manager how things stand through a Notifier. It knows nothing of AWS or of
// the OS: the pass is a function.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/serialpass/serialpass/agent"
)

// Defaults for the zero values of Loop's fields.
const (
	DefaultJitter         = 0.1
	DefaultBackoff        = 5 * time.Second
	DefaultUnreachableCap = 4 * time.Second
	DefaultStopGrace      = 8 * time.Second
	DefaultAbandonAfter   = time.Second
)

// MinDelay is the shortest sleep between two attempts, also when a pass
// asks to run again sooner (agent.Result.NextPass).
const MinDelay = time.Second

// unreachableBase is the first retry delay after an error wrapping
// agent.ErrUnreachable.
const unreachableBase = time.Second

// ThrottleBase is the first retry delay after an error wrapping
// agent.ErrThrottled; see ThrottleDelay.
const ThrottleBase = 8 * time.Second

// Notifier tells the service manager about the daemon's state, in sd_notify
// syntax ("READY=1", "STATUS=...", newline-separated).
type Notifier interface {
	Notify(state string) error
}

// Loop runs Pass until its context is cancelled. Zero fields take the
// defaults above; Pass, Interval, Clock and Log are required.
type Loop struct {
	// Pass runs one reconcile pass. It must honour ctx.
	Pass func(ctx context.Context) agent.Result
	// Report, when set, sends the outcome of a pass whose only failure
	// was its report (agent.Result.Unreported) without a new pass: the
	// retry after a throttled CreateTags costs one call, not a pass. It
	// must honour ctx. Nil: such a retry is a full pass.
	Report func(ctx context.Context) agent.Result
	// Interval between passes that end without error, unless a pass asks
	// to run again sooner (agent.Result.NextPass, never under MinDelay).
	Interval time.Duration
	// Jitter spreads every delay uniformly over ±Jitter of its length so a
	// fleet does not beat in step. Negative means none.
	Jitter float64
	// Backoff is the first retry delay after an error; it doubles with
	// each consecutive error, capped at Interval. Throttling errors
	// follow ThrottleDelay instead.
	Backoff time.Duration
	// UnreachableCap caps the retry delay (from 1 s, doubling) after an
	// error wrapping agent.ErrUnreachable: the network or instance
	// metadata coming up at boot costs nothing to retry, and the agent
	// should be ready seconds after it answers.
	UnreachableCap time.Duration
	// Clock sleeps between passes.
	Clock agent.Clock
	// Notifier receives READY=1 once after the first pass, STATUS= after
	// each pass and STOPPING=1 on stop. Nil: nobody is told.
	Notifier Notifier
	Log      *slog.Logger
	// Wake runs a pass now when it receives (SIGHUP). A wake during a pass
	// runs another pass right after it.
	Wake <-chan struct{}
	// StopGrace is how long a pass in flight when ctx is cancelled may
	// run on before its own context is cancelled.
	StopGrace time.Duration
	// AbandonAfter is how long Run still waits, after cancelling the
	// pass, before it gives up on it and returns an error.
	AbandonAfter time.Duration
	// SecretTag names the tag whose absence disables the agent, for the
	// STATUS line ("serialpass:secret" when empty).
	SecretTag string
	// Rand returns a number in [0, 1) for jitter. Nil: math/rand/v2,
	// seeded per process.
	Rand func() float64
}

// ErrPassStuck is returned by Run when a pass did not return after its
// context was cancelled.
var ErrPassStuck = errors.New("pass did not return after cancellation")

// loopState is what Run carries from one pass to the next.
type loopState struct {
	passes   int
	failures int    // consecutive failed passes
	errKey   string // key of the last error logged
	status   string // status of the previous pass
	notifyOK bool   // whether the last Notify worked, to log failures once
	// unreported: the last pass did its work but not its report, so
	// the next attempt may be Report alone.
	unreported bool
	// next is the NextPass of the last full pass: a pass runs then at
	// the latest, also between retries of a report alone.
	next time.Time
}

// Run runs a pass now, then one per Interval (or sooner after an error, a
// wake, or at the agent.Result.NextPass a pass asked for) until ctx is
// cancelled. A pass in flight at that moment runs on a
// context of its own, cancelled StopGrace later, so it can finish its
// write. Run returns nil after a clean stop and ErrPassStuck when a pass
// ignored its cancellation.
func (l *Loop) Run(ctx context.Context) error {
	if l.Pass == nil || l.Clock == nil || l.Log == nil || l.Interval <= 0 {
		return errors.New("daemon: Loop needs Pass, Clock, Log and a positive Interval")
	}
	passCtx, cancelPass := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelPass()
	st := loopState{notifyOK: true}
	woken := false
	for {
		attempt, full := l.Pass, true
		if st.unreported && l.Report != nil && !woken && !st.due(l.Clock.Now()) {
			attempt, full = l.Report, false
		}
		res, stopped, err := l.runPass(ctx, passCtx, cancelPass, attempt)
		if err != nil {
			return err
		}
		if full {
			st.next = res.NextPass
		}
		delay := l.finish(res, &st)
		if stopped {
			return nil
		}
		var ok bool
		if ok, woken = l.sleep(ctx, delay); !ok {
			l.stopping()
			return nil
		}
	}
}

// runPass runs one attempt (a pass, or a report alone). When ctx is
// cancelled during it, the attempt keeps passCtx for StopGrace, then
// passCtx is cancelled and Run waits AbandonAfter more; stopped reports
// that ctx was cancelled.
func (l *Loop) runPass(ctx, passCtx context.Context, cancelPass context.CancelFunc, attempt func(context.Context) agent.Result) (res agent.Result, stopped bool, err error) {
	done := make(chan agent.Result, 1)
	go func() { done <- attempt(passCtx) }()
	select {
	case res := <-done:
		return res, ctx.Err() != nil, nil
	case <-ctx.Done():
	}
	grace := or(l.StopGrace, DefaultStopGrace)
	l.Log.Info("stopping after the pass in flight", "grace", grace)
	if l.Notifier != nil {
		// Best effort: the process is on its way out.
		_ = l.Notifier.Notify("STOPPING=1")
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case res := <-done:
		return res, true, nil
	case <-t.C:
	}
	cancelPass()
	abandon := or(l.AbandonAfter, DefaultAbandonAfter)
	t.Reset(abandon)
	select {
	case res := <-done:
		return res, true, nil
	case <-t.C:
		return agent.Result{}, true, fmt.Errorf("stopping after %s: %w", grace+abandon, ErrPassStuck)
	}
}

// due reports that the time the last full pass asked to run again at has
// come.
func (st *loopState) due(now time.Time) bool {
	return !st.next.IsZero() && !now.Before(st.next)
}

// finish logs the pass and tells the service manager, and returns the delay
// before the next pass: the usual one (the jittered interval, or the retry
// delay after an error), cut short to reach st.next, never under MinDelay.
func (l *Loop) finish(res agent.Result, st *loopState) time.Duration {
	st.passes++
	now := l.Clock.Now()
	var delay time.Duration
	st.unreported = res.Unreported
	if res.Err != nil {
		st.failures++
		delay = l.retryDelay(res.Err, st.failures)
		// agent.Reason drops AWS request ids: a retry of the same failure
		// gives the same reason.
		if reason := agent.Reason(res.Err); reason != st.errKey {
			st.errKey = reason
			l.Log.Warn("pass failed", "reason", reason, "retry_in", delay.Round(time.Second))
		} else {
			l.Log.Debug("pass failed again", "failures", st.failures, "retry_in", delay.Round(time.Second))
		}
	} else {
		delay = l.jitter(l.Interval)
		switch {
		case st.failures > 0:
			l.Log.Info("pass succeeded", "status", res.Status, "after_failures", st.failures)
		case res.Status != st.status || res.Changed:
			l.Log.Info("pass finished", "status", res.Status, "user", res.User, "version", res.VersionID)
		default:
			l.Log.Debug("pass finished", "status", res.Status)
		}
		st.failures, st.errKey = 0, ""
	}
	if !st.next.IsZero() {
		if d := max(st.next.Sub(now), MinDelay); d < delay {
			l.Log.Debug("next pass sooner than usual", "at", st.next.UTC().Format(time.RFC3339), "in", d)
			delay = d
		}
	}
	st.status = res.Status
	if l.Notifier != nil {
		msg := "STATUS=" + StatusLine(res, now, l.SecretTag)
		if st.passes == 1 {
			msg = "READY=1\n" + msg
		}
		err := l.Notifier.Notify(msg)
		if err != nil && st.notifyOK {
			l.Log.Warn("cannot notify the service manager", "err", err)
		}
		st.notifyOK = err == nil
	}
	return delay
}

// stopping tells the service manager, when stopped between passes.
func (l *Loop) stopping() {
	l.Log.Info("stopping")
	if l.Notifier != nil {
		_ = l.Notifier.Notify("STOPPING=1")
	}
}

// sleep waits d, or less if Wake fires; ok is false when ctx is done.
func (l *Loop) sleep(ctx context.Context, d time.Duration) (ok, woken bool) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	slept := make(chan error, 1)
	go func() { slept <- l.Clock.Sleep(sctx, d) }()
	select {
	case err := <-slept:
		return err == nil && ctx.Err() == nil, false
	case <-l.Wake:
		cancel()
		<-slept
		l.Log.Info("woken: running a pass now")
		return ctx.Err() == nil, true
	}
}

// retryDelay is the delay before retrying after the n-th consecutive
// error: ThrottleDelay for throttling, else the jittered backoff.
func (l *Loop) retryDelay(err error, n int) time.Duration {
	if errors.Is(err, agent.ErrThrottled) {
		return ThrottleDelay(n, l.Interval, l.rand())
	}
	return min(l.jitter(l.backoff(err, n)), l.Interval)
}

// ThrottleDelay is the delay before the n-th retry (n ≥ 1) of a call that
// AWS throttled: d = ThrottleBase·2^(n-1), capped at ceil, and then a
// random point of [d/2, d] from r in [0, 1) ("equal jitter"). No ceiling
// (ceil ≤ 0) means an hour.
//
// A fleet booting together meets CreateTags' token bucket all at once;
// retries spread over a window that doubles until the fleet's rate falls
// under the bucket's refill, and the lower half-window bound keeps the
// retries of one instance few. bench/ measures it against a throttled
// emulator (bench/RESULTS.md).
func ThrottleDelay(n int, ceil time.Duration, r float64) time.Duration {
	if ceil <= 0 {
		ceil = time.Hour
	}
	d := doubled(ThrottleBase, ceil, n)
	return d/2 + time.Duration(r*float64(d/2))
}

// doubled is base doubled n-1 times, capped at ceil.
func doubled(base, ceil time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < ceil; i++ {
		d *= 2
	}
	return min(d, ceil)
}

// backoff is the delay before retrying after the n-th consecutive error.
func (l *Loop) backoff(err error, n int) time.Duration {
	base, ceil := or(l.Backoff, DefaultBackoff), l.Interval
	if errors.Is(err, agent.ErrUnreachable) {
		base, ceil = unreachableBase, min(or(l.UnreachableCap, DefaultUnreachableCap), l.Interval)
	}
	return doubled(base, ceil, n)
}

// jitter spreads d uniformly over d·(1±Jitter).
func (l *Loop) jitter(d time.Duration) time.Duration {
	j := l.Jitter
	switch {
	case j == 0:
		j = DefaultJitter
	case j < 0:
		return d
	}
	return time.Duration(float64(d) * (1 + j*(2*l.rand()-1)))
}

// rand returns a number in [0, 1) from Rand, else math/rand/v2.
func (l *Loop) rand() float64 {
	if l.Rand != nil {
		return l.Rand()
	}
	return rand.Float64()
}

func or(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
