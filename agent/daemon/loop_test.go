package daemon

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/serialpass/serialpass/agent"
)

func TestFirstPassRunsImmediately(t *testing.T) {
	h := newHarness(t, nil)
	select {
	case call := <-h.pass.calls:
		call.reply <- ready
	case s := <-h.clock.sleeps:
		t.Fatalf("the loop slept %s before its first pass", s.d)
	case <-time.After(guard):
		t.Fatal("no pass")
	}
	if s := h.clock.nextSleep(t); s.d != 15*time.Minute {
		t.Errorf("slept %s after a ready pass, want the interval", s.d)
	}
}

func TestNotify(t *testing.T) {
	for _, tc := range []struct {
		name  string
		first agent.Result
		want  string
	}{
		{"first pass ready", ready, "STATUS=ready: user=ec2-serial version=v1 at 2026-12-03T10:00:00Z"},
		{"first pass failed", failed("reading instance tags: boom", nil), "STATUS=error: reading instance tags: boom"},
		{"first pass disabled", disabled, "STATUS=disabled: no serialpass:secret tag"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil)
			results := []agent.Result{tc.first, ready, failed("secret gone", nil), disabled}
			for _, r := range results {
				h.pass.answer(t, r)
				close(h.clock.nextSleep(t).fire)
			}
			got := h.notify.all()
			if len(got) != len(results) {
				t.Fatalf("notified %d times, want one per pass: %q", len(got), got)
			}
			ready := 0
			for i, s := range got {
				if strings.Contains(s, "READY=1") {
					ready++
					if i != 0 {
						t.Errorf("READY=1 sent after pass %d, want after the first", i+1)
					}
				}
				if !strings.Contains(s, "STATUS=") || strings.Count(strings.TrimPrefix(s, "READY=1\n"), "\n") != 0 {
					t.Errorf("notification %d = %q, want one STATUS= line", i+1, s)
				}
			}
			if ready != 1 {
				t.Errorf("READY=1 sent %d times, want once: %q", ready, got)
			}
			if !strings.Contains(got[0], tc.want) {
				t.Errorf("first notification = %q, want it to contain %q", got[0], tc.want)
			}
		})
	}
}

func TestIntervalJitter(t *testing.T) {
	const interval = 100 * time.Second
	for _, tc := range []struct {
		name     string
		rand     func() float64
		jitter   float64
		min, max time.Duration
	}{
		{"lowest draw", func() float64 { return 0 }, 0, 90 * time.Second, 90 * time.Second},
		{"middle draw", func() float64 { return 0.5 }, 0, interval, interval},
		{"highest draw", func() float64 { return 0.999999 }, 0, 109999 * time.Millisecond, 110 * time.Second},
		{"jitter off", func() float64 { return 0 }, -1, interval, interval},
		{"wider jitter", func() float64 { return 0 }, 0.5, 50 * time.Second, 50 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(l *Loop) { l.Interval, l.Rand, l.Jitter = interval, tc.rand, tc.jitter })
			h.pass.answer(t, ready)
			if d := h.clock.nextSleep(t).d; d < tc.min || d > tc.max {
				t.Errorf("slept %s, want within [%s, %s]", d, tc.min, tc.max)
			}
		})
	}
	t.Run("per-process source stays within ±10% and varies", func(t *testing.T) {
		h := newHarness(t, func(l *Loop) { l.Interval, l.Rand = interval, nil })
		seen := map[time.Duration]bool{}
		for range 50 {
			h.pass.answer(t, ready)
			s := h.clock.nextSleep(t)
			if s.d < 90*time.Second || s.d > 110*time.Second {
				t.Errorf("slept %s, want within ±10%% of %s", s.d, interval)
			}
			seen[s.d] = true
			close(s.fire)
		}
		if len(seen) < 10 {
			t.Errorf("only %d distinct delays in 50 passes: no jitter", len(seen))
		}
	})
}

func TestWake(t *testing.T) {
	t.Run("between passes", func(t *testing.T) {
		h := newHarness(t, nil)
		h.pass.answer(t, ready)
		s := h.clock.nextSleep(t)
		h.wake <- struct{}{}
		h.pass.answer(t, ready) // without the sleep firing
		if s.ctx.Err() == nil {
			t.Error("the interrupted sleep's context is still live")
		}
		if d := h.clock.nextSleep(t).d; d != 15*time.Minute {
			t.Errorf("slept %s after the woken pass, want the interval", d)
		}
		if n := h.logs.count("woken"); n != 1 {
			t.Errorf("logged the wake %d times, want once", n)
		}
	})
	t.Run("during a pass runs another right after", func(t *testing.T) {
		h := newHarness(t, nil)
		p := h.pass.next(t)
		h.wake <- struct{}{}
		p.reply <- ready
		h.pass.answer(t, ready)
		h.clock.nextSleep(t)
	})
}

func TestBackoff(t *testing.T) {
	generic := failed("reading secret: boom", errors.New("boom"))
	unreachable := failed("reading instance tags: unreachable", agent.ErrUnreachable)
	s := time.Second
	for _, tc := range []struct {
		name     string
		interval time.Duration
		rand     func() float64
		results  []agent.Result
		want     []time.Duration
	}{
		{
			name: "doubles and caps at the interval, resets on success", interval: 60 * s,
			results: []agent.Result{generic, generic, generic, generic, generic, generic, ready, generic},
			want:    []time.Duration{5 * s, 10 * s, 20 * s, 40 * s, 60 * s, 60 * s, 60 * s, 5 * s},
		},
		{
			name: "disabled is not an error", interval: 60 * s,
			results: []agent.Result{generic, disabled, generic},
			want:    []time.Duration{5 * s, 60 * s, 5 * s},
		},
		{
			name: "unreachable retries fast, capped", interval: 15 * time.Minute,
			results: []agent.Result{unreachable, unreachable, unreachable, unreachable, generic},
			want:    []time.Duration{1 * s, 2 * s, 4 * s, 4 * s, 5 * 16 * s},
		},
		{
			name: "unreachable cap never exceeds the interval", interval: 3 * s,
			results: []agent.Result{unreachable, unreachable, unreachable},
			want:    []time.Duration{1 * s, 2 * s, 3 * s},
		},
		{
			name: "backoff is jittered too", interval: 60 * s, rand: func() float64 { return 0 },
			results: []agent.Result{generic, generic},
			want:    []time.Duration{4500 * time.Millisecond, 9 * s},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(l *Loop) {
				l.Interval = tc.interval
				if tc.rand != nil {
					l.Rand = tc.rand
				}
			})
			var got []time.Duration
			for _, r := range tc.results {
				h.pass.answer(t, r)
				sl := h.clock.nextSleep(t)
				got = append(got, sl.d)
				close(sl.fire)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("delays = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRepeatedErrorLoggedOnce(t *testing.T) {
	throttled := func(id string) agent.Result {
		return failed("reading secret \"x\": operation error Secrets Manager: GetSecretValue, https response error StatusCode: 400, RequestID: "+id+", ThrottlingException: Rate exceeded", agent.ErrThrottled)
	}
	h := newHarness(t, nil)
	steps := []struct {
		res      agent.Result
		wantWarn int // "pass failed" warnings logged so far
	}{
		{throttled("11111111-aaaa"), 1},
		{throttled("22222222-bbbb"), 1},
		{throttled("33333333-cccc"), 1},
		{failed("secret \"x\" not found", agent.ErrSecretNotFound), 2},
		{failed("secret \"x\" not found", agent.ErrSecretNotFound), 2},
		{ready, 2},
		{failed("secret \"x\" not found", agent.ErrSecretNotFound), 3},
	}
	for i, st := range steps {
		h.pass.answer(t, st.res)
		s := h.clock.nextSleep(t)
		if n := h.logs.count("level=WARN", "pass failed"); n != st.wantWarn {
			t.Errorf("after pass %d: %d warnings, want %d\n%s", i+1, n, st.wantWarn, h.logs.buf.String())
		}
		close(s.fire)
	}
	if n := h.logs.count("level=INFO", "pass succeeded", "after_failures=5"); n != 1 {
		t.Errorf("recovery logged %d times, want once", n)
	}
}

func TestStop(t *testing.T) {
	t.Run("during a pass the pass finishes, then Run returns", func(t *testing.T) {
		h := newHarness(t, func(l *Loop) { l.StopGrace = time.Minute })
		p := h.pass.next(t)
		h.cancel()
		select {
		case err := <-h.done:
			t.Fatalf("Run returned %v while a pass was in flight", err)
		case <-time.After(100 * time.Millisecond):
		}
		if err := p.ctx.Err(); err != nil {
			t.Fatalf("the pass lost its context at the stop signal: %v", err)
		}
		p.reply <- ready
		if err := h.wait(t); err != nil {
			t.Fatalf("Run = %v, want nil", err)
		}
		got := h.notify.all()
		if len(got) != 2 || got[0] != "STOPPING=1" || !strings.Contains(got[1], "STATUS=ready") {
			t.Errorf("notifications = %q, want STOPPING=1 then the pass's status", got)
		}
	})
	t.Run("a pass past the grace is cancelled", func(t *testing.T) {
		h := newHarness(t, func(l *Loop) { l.StopGrace = 20 * time.Millisecond })
		p := h.pass.next(t)
		h.cancel()
		select {
		case <-p.ctx.Done():
		case <-time.After(guard):
			t.Fatal("the pass context was not cancelled after the grace")
		}
		if err := h.wait(t); err != nil {
			t.Fatalf("Run = %v, want nil", err)
		}
	})
	t.Run("a pass that ignores cancellation is abandoned", func(t *testing.T) {
		block := make(chan struct{})
		t.Cleanup(func() { close(block) })
		h := newHarness(t, func(l *Loop) {
			l.Pass = func(context.Context) agent.Result { <-block; return ready }
			l.StopGrace, l.AbandonAfter = 20*time.Millisecond, 20*time.Millisecond
		})
		h.cancel()
		if err := h.wait(t); !errors.Is(err, ErrPassStuck) {
			t.Fatalf("Run = %v, want ErrPassStuck", err)
		}
	})
	t.Run("between passes Run returns at once", func(t *testing.T) {
		h := newHarness(t, nil)
		h.pass.answer(t, ready)
		s := h.clock.nextSleep(t)
		h.cancel()
		if err := h.wait(t); err != nil {
			t.Fatalf("Run = %v, want nil", err)
		}
		if s.ctx.Err() == nil {
			t.Error("the sleep was not interrupted")
		}
		if got := h.notify.all(); got[len(got)-1] != "STOPPING=1" {
			t.Errorf("last notification = %q, want STOPPING=1", got[len(got)-1])
		}
	})
	t.Run("default budget is under systemd's 10 s", func(t *testing.T) {
		if b := DefaultStopGrace + DefaultAbandonAfter; b >= 10*time.Second {
			t.Errorf("stop budget %s, want under 10s", b)
		}
	})
}

func TestRunNeedsFields(t *testing.T) {
	if err := (&Loop{}).Run(context.Background()); err == nil {
		t.Error("Run on an empty Loop succeeded")
	}
}

func TestStatusLine(t *testing.T) {
	at := time.Date(2026, 12, 3, 10, 0, 0, 500, time.FixedZone("X", 3600))
	for _, tc := range []struct {
		name string
		res  agent.Result
		tag  string
		want string
	}{
		{"ready", ready, "", "ready: user=ec2-serial version=v1 at 2026-12-03T09:00:00Z"},
		{"error", failed("secret \"x\" not found", nil), "", "error: secret \"x\" not found (at 2026-12-03T09:00:00Z)"},
		{"ready but report failed", agent.Result{Status: agent.StatusReady, Err: errors.New("reporting status: denied")}, "", "error: reporting status: denied (at 2026-12-03T09:00:00Z)"},
		{"disabled", disabled, "", "disabled: no serialpass:secret tag (at 2026-12-03T09:00:00Z)"},
		{"disabled, own prefix", disabled, "acme:secret", "disabled: no acme:secret tag (at 2026-12-03T09:00:00Z)"},
		{"multi-line error", agent.Result{Err: errors.Join(errors.New("a"), errors.New("b"))}, "", "error: a; b (at 2026-12-03T09:00:00Z)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := StatusLine(tc.res, at, tc.tag); got != tc.want {
				t.Errorf("StatusLine = %q, want %q", got, tc.want)
			}
		})
	}
}
