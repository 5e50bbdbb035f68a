package agent_test

import (
	"testing"
	"time"

	"github.com/serialpass/serialpass/agent"
)

// TestNextPassIsWhenThePassActs: a pass returns when the next one needs to
// run, and that is the moment a pass acts: one a second earlier does not,
// one at that time does.
func TestNextPassIsWhenThePassActs(t *testing.T) {
	rotated := func(res agent.Result) bool { return res.Rotated }
	expired := func(res agent.Result) bool { return res.Status == agent.StatusExpired }
	until := rigStart.Add(3 * time.Hour)
	tests := []struct {
		name    string
		tags    map[string]string
		arrange func(r *rotRig) // after a first pass at rigStart
		// want is the NextPass expected, given the one the pass returned.
		want  func(t *testing.T, got time.Time) time.Time
		acted func(agent.Result) bool
	}{
		{name: "pull: enable-until", tags: map[string]string{"serialpass:secret": "fleet/console", "serialpass:enable-until": until.Format(time.RFC3339)},
			arrange: func(r *rotRig) {}, want: func(*testing.T, time.Time) time.Time { return until }, acted: expired},
		{name: "rotate: enable-until before the max age", tags: map[string]string{"serialpass:mode": "rotate", "serialpass:enable-until": until.Format(time.RFC3339)},
			arrange: func(r *rotRig) {}, want: func(*testing.T, time.Time) time.Time { return until }, acted: expired},
		{name: "rotate: max age", arrange: func(r *rotRig) {},
			want: maxAgeDue, acted: rotated},
		{name: "rotate: end of the post-use grace", arrange: func(r *rotRig) {
			r.advance(2 * time.Hour)
			r.sessions.ss = []agent.Session{{User: rigUser, Line: "ttyS0", Login: rigStart.Add(time.Hour), Logout: rigStart.Add(90 * time.Minute)}}
		}, want: func(*testing.T, time.Time) time.Time { return rigStart.Add(150 * time.Minute) }, acted: rotated},
		{name: "rotate: grace over before the 10 minutes: their end", arrange: func(r *rotRig) {
			r.agent.Config.RotateAfterUse = agent.Duration(time.Minute)
			r.advance(3 * time.Minute)
			r.sessions.ss = []agent.Session{{User: rigUser, Line: "ttyS0", Login: rigStart.Add(time.Minute), Logout: rigStart.Add(2 * time.Minute)}}
		}, want: func(*testing.T, time.Time) time.Time { return rigStart.Add(agent.MinRotationInterval) }, acted: rotated},
		{name: "rotate: a request waiting for the 10 minutes", arrange: func(r *rotRig) {
			r.advance(2 * time.Minute)
			r.state.s.RotateRequested = r.clock.now
		}, want: func(*testing.T, time.Time) time.Time { return rigStart.Add(agent.MinRotationInterval) }, acted: rotated},
		{name: "rotate: a rotate tag waiting for the 10 minutes", arrange: func(r *rotRig) {
			r.advance(4 * time.Minute)
			r.tags.tags["serialpass:rotate"] = "nonce-2"
		}, want: func(*testing.T, time.Time) time.Time { return rigStart.Add(agent.MinRotationInterval) }, acted: rotated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRotRig(t, tt.tags)
			if tt.tags["serialpass:secret"] != "" {
				putCurrent(t, r, tt.tags["serialpass:secret"], "Fleet-Passw0rd-1")
			}
			r.mustPass()
			tt.arrange(r)
			res := r.pass()
			want := tt.want(t, res.NextPass)
			if !res.NextPass.Equal(want) || tt.acted(res) {
				t.Fatalf("pass at %s = %+v; want NextPass %s, nothing done yet", r.clock.now, res, want)
			}
			r.clock.now = want.Add(-time.Second)
			if res := r.pass(); tt.acted(res) {
				t.Fatalf("a pass 1 s before NextPass acted already: %+v", res)
			}
			r.clock.now = want
			if res := r.pass(); !tt.acted(res) {
				t.Fatalf("the pass at NextPass %s = %+v, want it to act", want, res)
			}
		})
	}
	// A session still open: the next pass looks for its end after the
	// grace delay (a minute at least), then rotates the grace after it.
	for _, tc := range []struct {
		name  string
		grace time.Duration
		wait  time.Duration
	}{
		{"an open session: look again after the grace delay", time.Hour, time.Hour},
		{"an open session, short grace: look again after a minute", 10 * time.Second, time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRotRig(t, nil)
			r.agent.Config.RotateAfterUse = agent.Duration(tc.grace)
			r.mustPass()
			r.advance(2 * time.Hour)
			login := rigStart.Add(time.Hour)
			r.sessions.ss = []agent.Session{{User: rigUser, Line: "ttyS0", Login: login}}
			res := r.mustPass()
			if want := r.clock.now.Add(tc.wait); !res.NextPass.Equal(want) || res.Rotated {
				t.Fatalf("NextPass = %s (rotated %v), want %s", res.NextPass, res.Rotated, want)
			}
			logout := r.clock.now.Add(tc.wait / 2)
			r.clock.now = res.NextPass
			r.sessions.ss[0].Logout = logout
			if res = r.mustPass(); res.Rotated != !logout.Add(tc.grace).After(r.clock.now) {
				t.Fatalf("the pass at NextPass after a logout at %s: rotated %v", logout, res.Rotated)
			}
			if !res.Rotated {
				if want := logout.Add(tc.grace); !res.NextPass.Equal(want) {
					t.Fatalf("NextPass = %s after the logout, want the end of the grace %s", res.NextPass, want)
				}
			}
		})
	}
	t.Run("pull without enable-until: none", func(t *testing.T) {
		r := newRotRig(t, map[string]string{"serialpass:secret": "fleet/console"})
		putCurrent(t, r, "fleet/console", "Fleet-Passw0rd-1")
		if res := r.mustPass(); !res.NextPass.IsZero() {
			t.Errorf("NextPass = %s, want none", res.NextPass)
		}
	})
}

// maxAgeDue checks that got is the max-age due date of a password made at
// rigStart: 30 days, brought forward by at most a day of jitter.
func maxAgeDue(t *testing.T, got time.Time) time.Time {
	t.Helper()
	due := rigStart.Add(30 * 24 * time.Hour)
	if got.Before(due.Add(-24*time.Hour)) || got.After(due) {
		t.Fatalf("NextPass = %s, want the max-age due date, within a day before %s", got, due)
	}
	return got
}
