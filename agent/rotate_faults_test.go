package agent_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/serialpass/serialpass/agent"
	"github.com/serialpass/serialpass/agent/secrets"
)

func TestRotateRefusedCalls(t *testing.T) {
	throttled := fmt.Errorf("rate exceeded: %w", agent.ErrThrottled)
	t.Run("PutSecretValue refused: nothing changes locally", func(t *testing.T) {
		r := newRotRig(t, nil)
		r.mustPass()
		old := r.checkInvariant()
		fp := r.accounts.accounts[rigUser].acct.Fingerprint
		r.advance(11 * time.Minute)
		r.state.s.RotateRequested = r.clock.now
		r.store.FailNext(secrets.OpPutSecretValue, throttled)
		res := r.pass()
		if res.OK() || res.Status != agent.StatusRotating || !errors.Is(res.Err, agent.ErrThrottled) {
			t.Fatalf("pass = %+v, want rotating with a throttling error", res)
		}
		if r.accounts.accounts[rigUser].acct.Fingerprint != fp {
			t.Error("the local password changed")
		}
		if r.lastReport()["serialpass:status"] != "rotating" || !strings.Contains(r.lastReport()["serialpass:status:reason"], "PutSecretValue") {
			t.Errorf("report = %v", r.lastReport())
		}
		r.mustPass()
		if r.checkInvariant() == old {
			t.Error("the requested rotation did not happen on the next pass")
		}
	})
	t.Run("UpdateSecretVersionStage refused: rotating, resolved next pass", func(t *testing.T) {
		r := newRotRig(t, nil)
		r.mustPass()
		r.advance(11 * time.Minute)
		r.state.s.RotateRequested = r.clock.now
		r.store.FailNext(secrets.OpUpdateSecretVersionStage, throttled)
		res := r.pass()
		if res.OK() || res.Status != agent.StatusRotating {
			t.Fatalf("pass = %+v, want rotating", res)
		}
		token := r.state.s.Rotation.Token
		puts := r.store.Calls(secrets.OpPutSecretValue)
		r.mustPass()
		if cur := r.checkInvariant(); cur != token {
			t.Errorf("current = %s, want %s", cur, token)
		}
		if r.store.Calls(secrets.OpPutSecretValue) != puts {
			t.Error("PutSecretValue sent again for a token that has a version")
		}
	})
	t.Run("CreateSecret lost response: next pass applies the created version", func(t *testing.T) {
		r := newRotRig(t, nil)
		r.store.SetFault(func(c secrets.Call) error {
			if c.Op == secrets.OpCreateSecret && c.After {
				return errors.New("connection reset")
			}
			return nil
		})
		if res := r.pass(); res.OK() || res.Status != agent.StatusRotating {
			t.Fatalf("pass = %+v", res)
		}
		r.store.SetFault(nil)
		r.mustPass()
		r.checkInvariant()
		if r.store.Calls(secrets.OpCreateSecret) != 1 {
			t.Errorf("CreateSecret called %d times", r.store.Calls(secrets.OpCreateSecret))
		}
	})
	t.Run("chpasswd fails: local unchanged, rolled forward next pass", func(t *testing.T) {
		r := newRotRig(t, nil)
		r.mustPass()
		r.advance(11 * time.Minute)
		r.state.s.RotateRequested = r.clock.now
		r.accounts.setErr = errors.New("chpasswd: exit status 1")
		if res := r.pass(); res.OK() || res.Status != agent.StatusRotating {
			t.Fatalf("pass = %+v", res)
		}
		r.accounts.setErr = nil
		r.mustPass()
		r.checkInvariant()
	})
	t.Run("throttled DescribeSecret wraps ErrThrottled", func(t *testing.T) {
		r := newRotRig(t, nil)
		r.store.FailNext(secrets.OpDescribeSecret, throttled)
		if res := r.pass(); res.OK() || !errors.Is(res.Err, agent.ErrThrottled) {
			t.Fatalf("pass = %+v", res)
		}
	})
	t.Run("a verifier that cannot check fails the pass", func(t *testing.T) {
		r := newRotRig(t, nil)
		r.mustPass()
		r.state.s.Applied.Fingerprint = "lost"
		r.accounts.verErr = errors.New("perl not found")
		calls := len(r.accounts.calls)
		if res := r.pass(); res.OK() || !strings.Contains(res.Reason, "perl not found") {
			t.Fatalf("pass = %+v", res)
		}
		if len(r.accounts.calls) != calls {
			t.Errorf("account changed without a verdict: %v", r.accounts.calls[calls:])
		}
	})
}

func TestRotateStrayPending(t *testing.T) {
	ctx := context.Background()
	value := func(pw string) agent.Password {
		return agent.NewPassword(`{"username":"ec2-serial","password":"` + pw + `"}`)
	}
	t.Run("AWSPENDING nobody owns is removed", func(t *testing.T) {
		r := newRotRig(t, nil)
		r.mustPass()
		cur := r.checkInvariant()
		if _, err := r.store.PutSecretValue(ctx, rigSecret, strings.Repeat("s", 32), value("Stray-Passw0rd-xx"), []string{agent.StagePending}); err != nil {
			t.Fatal(err)
		}
		r.mustPass()
		if r.checkInvariant() != cur {
			t.Error("AWSCURRENT moved")
		}
	})
	t.Run("state lost mid-rotation: the local AWSPENDING is rolled forward", func(t *testing.T) {
		r := newRotRig(t, nil)
		r.mustPass()
		token := strings.Repeat("p", 32)
		if _, err := r.store.PutSecretValue(ctx, rigSecret, token, value("Pending-Passw0rd-1"), []string{agent.StagePending}); err != nil {
			t.Fatal(err)
		}
		if err := r.accounts.SetPassword(ctx, rigUser, agent.NewPassword("Pending-Passw0rd-1")); err != nil {
			t.Fatal(err)
		}
		r.state.s = agent.State{}
		r.mustPass()
		if cur := r.checkInvariant(); cur != token {
			t.Errorf("current = %s, want %s", cur, token)
		}
	})
	t.Run("AWSPENDING left on AWSCURRENT is cleared", func(t *testing.T) {
		r := newRotRig(t, nil)
		r.mustPass()
		cur := r.checkInvariant()
		if err := r.store.UpdateSecretVersionStage(ctx, rigSecret, agent.StagePending, cur, ""); err != nil {
			t.Fatal(err)
		}
		r.mustPass()
		if l := r.labels(); !slices.Equal(l[cur], []string{agent.StageCurrent}) {
			t.Errorf("labels = %v", l)
		}
	})
}

func TestRotateSettingsAndConfig(t *testing.T) {
	cfg := agent.DefaultConfig()
	tagCases := []struct {
		name string
		tags map[string]string
		want string // error substring, "" for none
	}{
		{"rotate mode alone enables", map[string]string{"serialpass:mode": "rotate"}, ""},
		{"bad mode", map[string]string{"serialpass:secret": "s", "serialpass:mode": "push"}, `"push" is not`},
		{"max-age in days", map[string]string{"serialpass:mode": "rotate", "serialpass:max-age": "7d"}, ""},
		{"bad max-age", map[string]string{"serialpass:mode": "rotate", "serialpass:max-age": "soon"}, "invalid duration"},
		{"bad enable-until", map[string]string{"serialpass:mode": "rotate", "serialpass:enable-until": "tomorrow"}, "RFC 3339"},
	}
	for _, tc := range tagCases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := agent.ParseTags(tc.tags, cfg)
			if !s.Enabled() || len(s.Unknown) != 0 {
				t.Errorf("settings = %+v", s)
			}
			if (err != nil) != (tc.want != "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
	cfgCases := []struct{ name, yaml, want string }{
		{"defaults", "", ""},
		{"alphabet with a quote", `password_alphabet: "abcdefghijklmnopqrstuvwxyzABCDEFG'"`, "not allowed"},
		{"alphabet with a space", `password_alphabet: "abcdefghijklmnopqrstuvwxyzABCDEFG "`, "not allowed"},
		{"alphabet too small", `password_alphabet: "abcdef"`, "at least 32"},
		{"too many symbols", `password_alphabet: "abcdefghijklmnopqrstuvwxyzABCDEF-_.,+"`, "at most 4"},
		{"short password", "password_length: 8", "password_length"},
		{"template without instance id", "secret_template: fleet/console", "{instance-id}"},
		{"rotate_after_use off", "rotate_after_use: 0s", ""},
		{"max_age in days", "max_age: 7d", ""},
	}
	for _, tc := range cfgCases {
		t.Run("config "+tc.name, func(t *testing.T) {
			_, err := agent.ParseConfig([]byte(tc.yaml))
			if (err != nil) != (tc.want != "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
	t.Run("generated passwords differ and stay in the alphabet", func(t *testing.T) {
		a, _ := agent.GeneratePassword(24, agent.DefaultAlphabet)
		b, _ := agent.GeneratePassword(24, agent.DefaultAlphabet)
		if a.Equal(b) || a.Len() != 24 || strings.Trim(string(a.Reveal()), agent.DefaultAlphabet) != "" {
			t.Errorf("passwords %d and %d bytes, equal %v", a.Len(), b.Len(), a.Equal(b))
		}
	})
}
