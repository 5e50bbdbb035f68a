package agent_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/serialpass/serialpass/agent"
	"github.com/serialpass/serialpass/agent/secrets"
)

// Edges of rotate mode: the rotating status during a rotation, expiry
// without AWS, re-enabling, and tags that change mid-rotation.

func TestRotatingIsReportedBeforeTheRotationWrites(t *testing.T) {
	cases := []struct {
		name    string
		arrange func(r *rotRig)
	}{
		{"requested rotation", func(r *rotRig) {
			r.mustPass()
			r.advance(11 * time.Minute)
			r.state.s.RotateRequested = r.clock.now
		}},
		{"creating the secret for a user with a password", func(r *rotRig) {
			ctx := context.Background()
			if err := r.accounts.Create(ctx, agent.AccountSpec{Name: rigUser, Groups: []string{"sudo"}, Shell: "/bin/bash"}); err != nil {
				t.Fatal(err)
			}
			if err := r.accounts.SetPassword(ctx, rigUser, agent.NewPassword("Old-Local-Passw0rd")); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRotRig(t, nil)
			tc.arrange(r)
			var atWrite []string
			r.store.SetFault(func(c secrets.Call) error {
				if !c.After && (c.Op == secrets.OpPutSecretValue || c.Op == secrets.OpCreateSecret) {
					atWrite = append(atWrite, r.lastReport()["serialpass:status"])
				}
				return nil
			})
			r.accounts.afterSet = func() { atWrite = append(atWrite, "set:"+r.lastReport()["serialpass:status"]) }
			res := r.mustPass()
			if !res.Rotated {
				t.Fatalf("pass = %+v", res)
			}
			if !slices.Equal(atWrite, []string{"rotating", "set:rotating"}) {
				t.Errorf("reported status at the store write and at chpasswd = %v, want rotating both times", atWrite)
			}
			if r.lastReport()["serialpass:status"] != "ready" {
				t.Errorf("final report = %v", r.lastReport())
			}
		})
	}
	t.Run("a rotation that cannot be announced does not start", func(t *testing.T) {
		r := newRotRig(t, nil)
		r.mustPass()
		old := r.checkInvariant()
		r.advance(11 * time.Minute)
		r.state.s.RotateRequested = r.clock.now
		r.reporter.err = errors.New("UnauthorizedOperation")
		if res := r.pass(); res.OK() {
			t.Fatalf("pass = %+v", res)
		}
		if r.store.Calls(secrets.OpPutSecretValue) != 0 || r.state.s.Rotation != nil {
			t.Errorf("PutSecretValue %d calls, rotation %+v", r.store.Calls(secrets.OpPutSecretValue), r.state.s.Rotation)
		}
		r.reporter.err = nil
		r.mustPass()
		if r.checkInvariant() == old {
			t.Error("the request was lost")
		}
	})
}

func TestExpiryWithoutSecretsManager(t *testing.T) {
	r := newRotRig(t, nil)
	r.mustPass()
	r.tags.tags["serialpass:enable-until"] = rigStart.Add(-time.Hour).Format(time.RFC3339)
	r.store.FailNext(secrets.OpDescribeSecret, errors.New("AccessDeniedException"))
	res := r.pass()
	if res.Status != agent.StatusExpired || !r.accounts.accounts[rigUser].acct.Locked {
		t.Fatalf("pass = %+v, locked %v: want expired and locked without asking AWS", res, r.accounts.accounts[rigUser].acct.Locked)
	}
}

func TestReenableWithinTenMinutesStaysLocked(t *testing.T) {
	r := newRotRig(t, nil)
	r.mustPass()
	first := r.checkInvariant()
	r.advance(2 * time.Minute)
	r.tags.tags["serialpass:enable-until"] = rigStart.Add(time.Minute).Format(time.RFC3339)
	if res := r.pass(); res.Status != agent.StatusExpired {
		t.Fatalf("pass = %+v", res)
	}
	r.advance(time.Minute)
	r.tags.tags["serialpass:enable-until"] = rigStart.Add(24 * time.Hour).Format(time.RFC3339)
	res := r.pass()
	if res.Status != agent.StatusExpired || !r.accounts.accounts[rigUser].acct.Locked || !strings.Contains(res.Reason, "fresh") {
		t.Fatalf("pass = %+v, locked %v: want still locked until a fresh password may be made", res, r.accounts.accounts[rigUser].acct.Locked)
	}
	r.store.FailNext(secrets.OpDescribeSecret, errors.New("connection refused"))
	r.pass()
	if !r.accounts.accounts[rigUser].acct.Locked {
		t.Fatal("unlocked by a pass that failed")
	}
	r.advance(10 * time.Minute)
	res = r.mustPass()
	if !res.Rotated || r.checkInvariant() == first || r.accounts.accounts[rigUser].acct.Locked {
		t.Fatalf("pass = %+v: want a fresh password, unlocked", res)
	}
}

func TestTagsChangeMidRotation(t *testing.T) {
	r := newRotRig(t, nil)
	r.mustPass()
	old := r.checkInvariant()
	r.advance(11 * time.Minute)
	r.state.s.RotateRequested = r.clock.now
	r.store.FailNext(secrets.OpUpdateSecretVersionStage, errors.New("connection reset"))
	if res := r.pass(); res.Status != agent.StatusRotating {
		t.Fatalf("pass = %+v", res)
	}
	pending := r.state.s.Rotation.Token
	r.tags.tags["serialpass:secret"] = "other/{instance-id}"
	r.mustPass()
	// The old secret's rotation was rolled forward: its AWSCURRENT is the
	// pending version, and no AWSPENDING is left on it.
	if l := r.labels(); !slices.Equal(l[pending], []string{agent.StageCurrent}) || !slices.Equal(l[old], []string{agent.StagePrevious}) {
		t.Errorf("labels of the old secret = %v", l)
	}
	if r.state.s.Rotation != nil {
		t.Errorf("rotation left open: %+v", r.state.s.Rotation)
	}
}

// TestRotateEmptySecret: a secret created with no version (by an operator
// or Terraform) is filled by the first pass. Secrets Manager makes that
// first version AWSCURRENT by itself, so the pass only clears AWSPENDING,
// in one pass, and ends ready with the invariant kept.
func TestRotateEmptySecret(t *testing.T) {
	r := newRotRig(t, nil)
	r.store.CreateEmptySecret(rigSecret)
	res := r.mustPass()
	if !res.Rotated || res.Secret != rigSecret {
		t.Fatalf("pass = %+v, want a rotation into the empty secret", res)
	}
	v := r.checkInvariant()
	if got := r.labels(); len(got) != 1 || !slices.Equal(got[v], []string{agent.StageCurrent}) {
		t.Errorf("labels = %v, want one version holding only AWSCURRENT", got)
	}
	if n := r.store.Calls(secrets.OpCreateSecret); n != 0 {
		t.Errorf("CreateSecret called %d times on an existing secret", n)
	}
	if n := r.store.Calls(secrets.OpUpdateSecretVersionStage); n != 1 {
		t.Errorf("UpdateSecretVersionStage called %d times, want 1 (clearing AWSPENDING; AWSCURRENT is there already)", n)
	}
	if st := r.state.s; st.Rotation != nil || st.Applied.VersionID != v {
		t.Errorf("state = %+v", st)
	}
}

// TestRotateAtWhileDeferred: a requested rotation waiting for the
// 10-minute rule says when it may run (what `serialpass rotate` prints),
// and nothing once it ran.
func TestRotateAtWhileDeferred(t *testing.T) {
	r := newRotRig(t, nil)
	first := r.mustPass()
	r.advance(3 * time.Minute)
	r.state.s.RotateRequested = r.clock.now
	res := r.mustPass()
	if want := rigStart.Add(agent.MinRotationInterval); res.Rotated || !res.RotateAt.Equal(want) {
		t.Fatalf("deferred pass: rotated %v, RotateAt %v, want not rotated and %v", res.Rotated, res.RotateAt, want)
	}
	r.advance(8 * time.Minute)
	res = r.mustPass()
	if !res.Rotated || !res.RotateAt.IsZero() || res.VersionID == first.VersionID {
		t.Errorf("pass after the wait: rotated %v, RotateAt %v", res.Rotated, res.RotateAt)
	}
}
