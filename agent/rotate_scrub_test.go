package agent_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/serialpass/serialpass/agent"
)

// leakyErr is an error as a tool might print it: quoting its input.
func leakyErr(what string, pw string) error { return fmt.Errorf("%s: bad input %q", what, pw) }

// TestResolveScrubsTheCandidatePassword: a failure on the crash-recovery
// path (resolve, and settling a rotation of old tags) never shows the
// password of the version it was working on in the reason.
func TestResolveScrubsTheCandidatePassword(t *testing.T) {
	const stray = "Stray-Passw0rd-xx"
	ctx := context.Background()
	// openRotation leaves a rotation whose AWSPENDING version is stored
	// but not applied locally, and returns its password.
	openRotation := func(r *rotRig) string {
		r.mustPass()
		r.advance(11 * time.Minute)
		r.state.s.RotateRequested = r.clock.now
		r.accounts.setErr = fmt.Errorf("chpasswd failed")
		if res := r.pass(); res.Status != agent.StatusRotating {
			t.Fatalf("pass = %+v, want rotating", res)
		}
		r.accounts.setErr = nil
		v, err := r.store.GetSecret(ctx, rigSecret, agent.StagePending)
		if err != nil {
			t.Fatal(err)
		}
		pw, err := agent.ParseSecret(v.Value, rigUser)
		if err != nil {
			t.Fatal(err)
		}
		return string(pw.Reveal())
	}
	tests := []struct {
		name    string
		arrange func(r *rotRig) string // returns the password to keep out
	}{
		{"applying the open rotation's version fails", func(r *rotRig) string {
			pw := openRotation(r)
			r.accounts.setErr = leakyErr("chpasswd", pw)
			return pw
		}},
		{"checking the open rotation's version fails", func(r *rotRig) string {
			pw := openRotation(r)
			r.accounts.verErr = leakyErr("unix_chkpwd", pw)
			return pw
		}},
		{"checking a stray AWSPENDING fails", func(r *rotRig) string {
			r.mustPass()
			if _, err := r.store.PutSecretValue(ctx, rigSecret, strings.Repeat("s", 32), agent.NewPassword(`{"username":"`+rigUser+`","password":"`+stray+`"}`), []string{agent.StagePending}); err != nil {
				t.Fatal(err)
			}
			r.accounts.verErr = leakyErr("unix_chkpwd", stray)
			return stray
		}},
		{"settling a rotation of old tags fails", func(r *rotRig) string {
			pw := openRotation(r)
			r.tags.tags["serialpass:secret"] = "serialpass/other-{instance-id}"
			r.accounts.setErr = leakyErr("chpasswd", pw)
			return pw
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRotRig(t, nil)
			pw := tt.arrange(r)
			res := r.pass()
			if res.OK() {
				t.Fatalf("pass = %+v, want a failure", res)
			}
			if !strings.Contains(res.Reason, "bad input") {
				t.Fatalf("reason %q does not come from the failing step", res.Reason)
			}
			for _, s := range []string{res.Reason, res.Err.Error(), r.lastReport()["serialpass:status:reason"]} {
				if strings.Contains(s, pw) {
					t.Errorf("the password shows in %q", s)
				}
			}
		})
	}
}
