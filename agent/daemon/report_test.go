package daemon

import (
	"testing"
	"time"

	"github.com/serialpass/serialpass/agent"
)

// throttledReport is a pass that did its work, but whose CreateTags AWS
// throttled.
func throttledReport() agent.Result {
	r := failed("reporting status: tagging instance i-1: throttled", agent.ErrThrottled)
	r.Status, r.Unreported = agent.StatusReady, true
	return r
}

// TestReportRetriedAlone: after a pass whose only failure was a throttled
// report, the next attempt is Report (no pass, so no Secrets Manager
// call), after ThrottleDelay; a wake during the wait runs a full pass.
func TestReportRetriedAlone(t *testing.T) {
	reports := newFakePass()
	h := newHarness(t, func(l *Loop) { l.Report = reports.Pass })

	h.pass.answer(t, throttledReport())
	if s := h.clock.nextSleep(t); s.d != ThrottleDelay(1, 15*time.Minute, 0.5) {
		t.Errorf("slept %s after a throttled report, want ThrottleDelay(1) = %s", s.d, ThrottleDelay(1, 15*time.Minute, 0.5))
	} else {
		close(s.fire)
	}
	reports.answer(t, throttledReport())
	if s := h.clock.nextSleep(t); s.d != ThrottleDelay(2, 15*time.Minute, 0.5) {
		t.Errorf("slept %s after a second throttled report, want ThrottleDelay(2)", s.d)
	} else {
		close(s.fire)
	}
	reports.answer(t, ready)
	if s := h.clock.nextSleep(t); s.d != 15*time.Minute {
		t.Errorf("slept %s after the report went through, want the interval", s.d)
	} else {
		close(s.fire)
	}
	h.pass.answer(t, ready) // the next attempt is a pass again

	t.Run("a wake runs a full pass", func(t *testing.T) {
		s := h.clock.nextSleep(t)
		close(s.fire)
		h.pass.answer(t, throttledReport())
		h.clock.nextSleep(t) // throttle delay, cut short:
		h.wake <- struct{}{}
		h.pass.answer(t, ready)
	})
	t.Run("a failed pass is retried as a pass", func(t *testing.T) {
		close(h.clock.nextSleep(t).fire)
		res := failed("secret \"x\" not found", agent.ErrSecretNotFound)
		h.pass.answer(t, res)
		close(h.clock.nextSleep(t).fire)
		h.pass.answer(t, ready)
	})
}

func TestThrottleDelay(t *testing.T) {
	tests := []struct {
		name     string
		n        int
		ceil     time.Duration
		r        float64
		want     time.Duration
		min, max time.Duration
	}{
		{name: "first, lowest draw", n: 1, ceil: 15 * time.Minute, r: 0, want: 4 * time.Second},
		{name: "first, highest draw", n: 1, ceil: 15 * time.Minute, r: 0.999999, min: 7900 * time.Millisecond, max: 8 * time.Second},
		{name: "third doubles twice", n: 3, ceil: 15 * time.Minute, r: 0.5, want: 24 * time.Second},
		{name: "capped at the interval", n: 20, ceil: time.Minute, r: 0, want: 30 * time.Second},
		{name: "no ceiling", n: 2, r: 0, want: 8 * time.Second},
		{name: "no ceiling: an hour", n: 99, r: 0, want: 30 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ThrottleDelay(tt.n, tt.ceil, tt.r)
			if tt.want != 0 && got != tt.want {
				t.Errorf("ThrottleDelay = %s, want %s", got, tt.want)
			}
			if tt.want == 0 && (got < tt.min || got > tt.max) {
				t.Errorf("ThrottleDelay = %s, want in [%s, %s]", got, tt.min, tt.max)
			}
		})
	}
}

// TestBackoffCappedAfterJitter: the retry delay never exceeds the interval,
// jitter included.
func TestBackoffCappedAfterJitter(t *testing.T) {
	h := newHarness(t, func(l *Loop) { l.Rand = func() float64 { return 0.999 } })
	for range 10 {
		h.pass.answer(t, failed("boom", nil))
		s := h.clock.nextSleep(t)
		if s.d > 15*time.Minute {
			t.Fatalf("slept %s, more than the interval", s.d)
		}
		close(s.fire)
	}
}
