package agent_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/serialpass/serialpass/agent"
	"github.com/serialpass/serialpass/agent/secrets"
)

func TestRotateFirstPassCreatesSecretAndUser(t *testing.T) {
	r := newRotRig(t, nil)
	res := r.mustPass()
	if !res.Rotated || !res.Changed || res.Secret != rigSecret {
		t.Fatalf("pass = %+v", res)
	}
	v := r.checkInvariant()
	if res.VersionID != v || r.lastReport()["serialpass:status:version"] != v || r.lastReport()["serialpass:status"] != "ready" {
		t.Errorf("version %q, report %v, want %q", res.VersionID, r.lastReport(), v)
	}
	info, _ := r.store.DescribeSecret(context.Background(), rigSecret)
	if info.Tags["serialpass:instance-id"] != rigInstance || info.Tags["serialpass:user"] != rigUser {
		t.Errorf("secret tags = %v", info.Tags)
	}
	cur, _ := r.store.GetSecret(context.Background(), rigSecret, agent.StageCurrent)
	var js struct{ Username, Password string }
	if err := json.Unmarshal(cur.Value.Reveal(), &js); err != nil || js.Username != rigUser || len(js.Password) != 24 {
		t.Fatalf("secret value: user %q, %d-char password, %v", js.Username, len(js.Password), err)
	}
	for _, c := range js.Password {
		if !strings.ContainsRune(agent.DefaultAlphabet, c) {
			t.Errorf("password holds %q, outside the alphabet", c)
		}
	}
	if st := r.state.s; st.LastRotation.IsZero() || st.Applied.VersionID != v {
		t.Errorf("state = %+v", st)
	}
	if a := r.accounts.accounts[rigUser]; a == nil || !slices.Equal(a.acct.Groups, []string{"sudo"}) {
		t.Errorf("account = %+v", a)
	}

	t.Run("steady state costs one DescribeSecret", func(t *testing.T) {
		r.store.ResetCalls()
		calls, reports := len(r.accounts.calls), len(r.reporter.reports)
		r.advance(time.Hour)
		res := r.mustPass()
		if res.Changed || res.Rotated || res.Reported {
			t.Errorf("pass = %+v", res)
		}
		for _, op := range []string{secrets.OpGetSecretValue, secrets.OpCreateSecret, secrets.OpPutSecretValue, secrets.OpUpdateSecretVersionStage} {
			if n := r.store.Calls(op); n != 0 {
				t.Errorf("%s called %d times", op, n)
			}
		}
		if r.store.Calls(secrets.OpDescribeSecret) != 1 || len(r.accounts.calls) != calls || len(r.reporter.reports) != reports {
			t.Errorf("describe %d, account calls %v, reports %d", r.store.Calls(secrets.OpDescribeSecret), r.accounts.calls[calls:], len(r.reporter.reports)-reports)
		}
	})
}

func TestRotateTriggers(t *testing.T) {
	cases := []struct {
		name string
		// arrange runs after the first pass; want says whether the next
		// pass rotates.
		arrange func(r *rotRig)
		want    bool
	}{
		{"nothing", func(r *rotRig) { r.advance(time.Hour) }, false},
		{"serialpass rotate", func(r *rotRig) { r.advance(11 * time.Minute); r.state.s.RotateRequested = r.clock.now }, true},
		{"request within 10 minutes waits", func(r *rotRig) { r.advance(9 * time.Minute); r.state.s.RotateRequested = r.clock.now }, false},
		{"new rotate nonce", func(r *rotRig) { r.advance(time.Hour); r.tags.tags["serialpass:rotate"] = "n1" }, true},
		{"max age reached", func(r *rotRig) { r.advance(30 * 24 * time.Hour) }, true},
		{"before max age less jitter", func(r *rotRig) { r.advance(26 * 24 * time.Hour) }, false},
		{"max-age tag", func(r *rotRig) { r.tags.tags["serialpass:max-age"] = "2d"; r.advance(49 * time.Hour) }, true},
		{"session ended past the grace", func(r *rotRig) {
			r.sessions.ss = []agent.Session{{User: rigUser, Line: "ttyS0", Login: rigStart.Add(time.Minute), Logout: rigStart.Add(5 * time.Minute)}}
			r.advance(66 * time.Minute)
		}, true},
		{"session ended within the grace", func(r *rotRig) {
			r.sessions.ss = []agent.Session{{User: rigUser, Line: "ttyS0", Login: rigStart.Add(time.Minute), Logout: rigStart.Add(5 * time.Minute)}}
			r.advance(64 * time.Minute)
		}, false},
		{"session still open", func(r *rotRig) {
			r.sessions.ss = []agent.Session{{User: rigUser, Line: "ttyS0", Login: rigStart.Add(time.Minute)}}
			r.advance(5 * time.Hour)
		}, false},
		{"session before the last rotation", func(r *rotRig) {
			r.sessions.ss = []agent.Session{{User: rigUser, Line: "ttyS0", Login: rigStart.Add(-time.Hour), Logout: rigStart.Add(-time.Minute)}}
			r.advance(5 * time.Hour)
		}, false},
		{"rotate_after_use 0 is off", func(r *rotRig) {
			r.agent.Config.RotateAfterUse = 0
			r.sessions.ss = []agent.Session{{User: rigUser, Line: "ttyS0", Login: rigStart.Add(time.Minute), Logout: rigStart.Add(5 * time.Minute)}}
			r.advance(5 * time.Hour)
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRotRig(t, map[string]string{"serialpass:mode": "rotate"})
			r.mustPass()
			first := r.checkInvariant()
			tc.arrange(r)
			res := r.mustPass()
			now := r.checkInvariant()
			if res.Rotated != tc.want || (now != first) != tc.want {
				t.Fatalf("rotated = %v (version %s -> %s), want %v", res.Rotated, first, now, tc.want)
			}
			if !tc.want {
				return
			}
			if l := r.labels(); !slices.Equal(l[first], []string{agent.StagePrevious}) || len(l) != 2 {
				t.Errorf("labels = %v, want AWSPREVIOUS on %s", l, first)
			}
			if !r.state.s.RotateRequested.IsZero() {
				t.Error("request not cleared")
			}
			if again := r.mustPass(); again.Rotated {
				t.Error("rotated twice for one trigger")
			}
		})
	}
}

func TestRotateReportsLastLogin(t *testing.T) {
	r := newRotRig(t, nil)
	r.mustPass()
	login := rigStart.Add(3 * time.Minute)
	r.sessions.ss = []agent.Session{{User: rigUser, Line: "ttyS0", Login: login}}
	res := r.mustPass()
	if !res.Reported || r.lastReport()["serialpass:status:last-login"] != login.Format(time.RFC3339) {
		t.Fatalf("report = %v", r.lastReport())
	}
	if res := r.mustPass(); res.Reported {
		t.Error("reported again with nothing new")
	}
}

func TestEnableUntil(t *testing.T) {
	past, future := rigStart.Add(-time.Hour).Format(time.RFC3339), rigStart.Add(time.Hour).Format(time.RFC3339)
	t.Run("rotate mode: lock, then unlock with a fresh password", func(t *testing.T) {
		r := newRotRig(t, nil)
		r.mustPass()
		first := r.checkInvariant()
		r.advance(20 * time.Minute)
		r.tags.tags["serialpass:enable-until"] = past
		res := r.pass()
		if !res.OK() || res.Status != agent.StatusExpired || !r.accounts.accounts[rigUser].acct.Locked {
			t.Fatalf("pass = %+v, locked %v", res, r.accounts.accounts[rigUser].acct.Locked)
		}
		if r.lastReport()["serialpass:status"] != "expired" {
			t.Errorf("report = %v", r.lastReport())
		}
		if res := r.pass(); res.Status != agent.StatusExpired || res.Changed {
			t.Errorf("second expired pass = %+v", res)
		}
		r.tags.tags["serialpass:enable-until"] = future
		res = r.mustPass()
		if !res.Rotated || r.accounts.accounts[rigUser].acct.Locked {
			t.Fatalf("pass = %+v: want a fresh password, unlocked", res)
		}
		if r.checkInvariant() == first {
			t.Error("same version after re-enabling")
		}
	})
	t.Run("rotate mode: expired before the secret exists creates nothing", func(t *testing.T) {
		r := newRotRig(t, map[string]string{"serialpass:mode": "rotate", "serialpass:enable-until": past})
		if res := r.pass(); res.Status != agent.StatusExpired || r.store.Calls(secrets.OpCreateSecret) != 0 || len(r.accounts.calls) != 0 {
			t.Fatalf("pass = %+v, creates %d, account calls %v", res, r.store.Calls(secrets.OpCreateSecret), r.accounts.calls)
		}
	})
	t.Run("pull mode: lock, then unlock with the current password", func(t *testing.T) {
		r := newRotRig(t, map[string]string{"serialpass:secret": "fleet/console"})
		if _, err := r.store.CreateSecret(context.Background(), agent.NewSecret{Name: "fleet/console", Value: agent.NewPassword("Pull-Passw0rd-1")}); err != nil {
			t.Fatal(err)
		}
		r.mustPass()
		r.tags.tags["serialpass:enable-until"] = past
		r.store.ResetCalls()
		if res := r.pass(); res.Status != agent.StatusExpired || !r.accounts.accounts[rigUser].acct.Locked || r.store.Calls(secrets.OpGetSecretValue) != 0 {
			t.Fatalf("pass = %+v", res)
		}
		delete(r.tags.tags, "serialpass:enable-until")
		r.mustPass()
		if err := r.accounts.Verify(context.Background(), rigUser, agent.NewPassword("Pull-Passw0rd-1")); err != nil {
			t.Fatalf("not unlocked with the current password: %v", err)
		}
	})
}

// TestRotateCrashAtEachStep kills the pass (no state saved from then on,
// the store's effect kept or not) at every step boundary, then runs a
// clean pass: the invariant holds and the rotation happened once.
func TestRotateCrashAtEachStep(t *testing.T) {
	type crash struct {
		op    string
		nth   int  // the nth call of op in the rotating pass (1-based)
		after bool // the call took effect
	}
	cases := []struct {
		name string
		at   crash
		// wantNew: the crashed rotation's version must become current.
		wantNew bool
	}{
		{"after recording the token", crash{secrets.OpPutSecretValue, 1, false}, false},
		{"after PutSecretValue", crash{secrets.OpPutSecretValue, 1, true}, true},
		{"after chpasswd", crash{secrets.OpUpdateSecretVersionStage, 1, false}, true},
		{"after moving AWSCURRENT", crash{secrets.OpUpdateSecretVersionStage, 1, true}, true},
		{"after clearing AWSPENDING", crash{secrets.OpUpdateSecretVersionStage, 2, true}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRotRig(t, nil)
			r.mustPass()
			old := r.checkInvariant()
			r.advance(11 * time.Minute)
			r.state.s.RotateRequested = r.clock.now
			n, landed := 0, map[string]int{}
			r.watchInvariant(func(c secrets.Call) error {
				if c.After {
					landed[c.Op]++
				}
				if c.Op == tc.at.op && c.After == tc.at.after {
					if n++; n == tc.at.nth {
						r.state.frozen = true // the process dies here
						return errors.New("killed")
					}
				}
				if r.state.frozen {
					return errors.New("killed")
				}
				return nil
			})
			res := r.pass()
			if res.OK() {
				t.Fatalf("crashed pass = %+v", res)
			}
			if res.Status != agent.StatusRotating {
				t.Errorf("status = %s, want rotating", res.Status)
			}
			if got := r.state.s.Rotation; got == nil || got.Phase != agent.PhaseRecorded {
				t.Fatalf("state on disk = %+v, want the recorded token", got)
			}
			if err := r.holdsNow(); err != nil {
				t.Errorf("after the crash: %v", err)
			}
			token := r.state.s.Rotation.Token
			r.watchInvariant(func(c secrets.Call) error {
				if c.After {
					landed[c.Op]++
				}
				return nil
			})
			r.state.frozen = false
			r.advance(time.Minute)
			r.mustPass()
			cur := r.checkInvariant()
			switch {
			case tc.wantNew && cur != token:
				t.Errorf("current = %s, want the crashed rotation's %s", cur, token)
			case !tc.wantNew && (cur == old || cur == token):
				t.Errorf("current = %s: want a new rotation (old %s, dropped %s)", cur, old, token)
			}
			if landed[secrets.OpPutSecretValue] != 1 {
				t.Errorf("%d versions stored, want 1", landed[secrets.OpPutSecretValue])
			}
			if l := r.labels(); !slices.Equal(l[old], []string{agent.StagePrevious}) {
				t.Errorf("labels = %v, want AWSPREVIOUS on the old version %s", l, old)
			}
			if r.lastReport()["serialpass:status"] != "ready" {
				t.Errorf("report = %v", r.lastReport())
			}
		})
	}
}
