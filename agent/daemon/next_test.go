package daemon

import (
	"errors"
	"testing"
	"time"

	"github.com/serialpass/serialpass/agent"
)

// TestNextPassShortensTheSleep: a pass that must run again at a known time
// (enable-until, the end of the post-use grace, a max-age due date, the end
// of a 10-minute wait) gets its pass then, when that comes before the usual
// delay, and never sooner than MinDelay.
func TestNextPassShortensTheSleep(t *testing.T) {
	tests := []struct {
		name string
		rand float64       // the jitter draw (0.5: none)
		res  agent.Result  // NextPass is set from in
		in   time.Duration // NextPass - now; 0 leaves it zero
		want time.Duration
	}{
		{name: "none asked: the interval", rand: 0.5, res: ready, want: 15 * time.Minute},
		{name: "sooner than the interval", rand: 0.5, res: ready, in: 3*time.Minute + 7*time.Second, want: 3*time.Minute + 7*time.Second},
		{name: "later than the interval", rand: 0.5, res: ready, in: 20 * time.Minute, want: 15 * time.Minute},
		{name: "the interval keeps its jitter", rand: 0, res: ready, in: 14 * time.Minute, want: 13*time.Minute + 30*time.Second},
		{name: "within the floor", rand: 0.5, res: ready, in: 200 * time.Millisecond, want: MinDelay},
		{name: "already past", rand: 0.5, res: ready, in: -time.Minute, want: MinDelay},
		{name: "after an error, sooner than the backoff", rand: 0.5, res: failed("boom", errors.New("boom")), in: 2 * time.Second, want: 2 * time.Second},
		{name: "after an error, the backoff is sooner", rand: 0.5, res: failed("boom", errors.New("boom")), in: time.Minute, want: DefaultBackoff},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, func(l *Loop) { l.Rand = func() float64 { return tt.rand } })
			res := tt.res
			if tt.in != 0 {
				res.NextPass = h.clock.Now().Add(tt.in)
			}
			h.pass.answer(t, res)
			if d := h.clock.nextSleep(t).d; d != tt.want {
				t.Errorf("slept %s, want %s", d, tt.want)
			}
		})
	}
	t.Run("each pass says anew", func(t *testing.T) {
		h := newHarness(t, nil)
		res := ready
		res.NextPass = h.clock.Now().Add(time.Minute)
		h.pass.answer(t, res)
		if s := h.clock.nextSleep(t); s.d != time.Minute {
			t.Fatalf("slept %s, want 1m", s.d)
		} else {
			close(s.fire)
		}
		h.pass.answer(t, ready) // the deadline is behind: nothing asked
		if d := h.clock.nextSleep(t).d; d != 15*time.Minute {
			t.Errorf("slept %s after a pass that asked nothing, want the interval", d)
		}
	})
}

// TestNextPassBetweenReportRetries: retries of a throttled report alone
// keep the time the last pass asked for, and once it has come the attempt
// is a full pass, not another report.
func TestNextPassBetweenReportRetries(t *testing.T) {
	reports := newFakePass()
	h := newHarness(t, func(l *Loop) { l.Report = reports.Pass })
	start := h.clock.Now()
	res := throttledReport()
	res.NextPass = start.Add(20 * time.Second)
	h.pass.answer(t, res)
	for i, want := range []time.Duration{
		ThrottleDelay(1, 15*time.Minute, 0.5), // 6 s
		ThrottleDelay(2, 15*time.Minute, 0.5), // 12 s, still before the deadline
		2 * time.Second,                       // ThrottleDelay(3) is 24 s: cut to the deadline
	} {
		s := h.clock.nextSleep(t)
		if s.d != want {
			t.Fatalf("sleep %d = %s, want %s", i+1, s.d, want)
		}
		close(s.fire)
		if i < 2 {
			reports.answer(t, throttledReport())
		}
	}
	select {
	case c := <-h.pass.calls:
		c.reply <- ready
	case c := <-reports.calls:
		c.reply <- ready
		t.Fatal("at the deadline the loop retried the report alone, want a full pass")
	case <-time.After(guard):
		t.Fatal("no attempt at the deadline")
	}
	if got := h.clock.Now().Sub(start); got != 20*time.Second {
		t.Errorf("the pass ran at +%s, want +20s", got)
	}
}
