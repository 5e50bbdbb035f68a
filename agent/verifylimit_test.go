package agent_test

import (
	"context"
	"maps"
	"strings"
	"testing"

	"github.com/serialpass/serialpass/agent"
)

// shadowSnapshot copies the fake's account database, the stand-in for
// /etc/shadow.
func shadowSnapshot(f *accountsFake) map[string]accountRec {
	out := map[string]accountRec{}
	for name, a := range f.accounts {
		out[name] = accountRec{acct: a.acct, pw: a.pw}
	}
	return out
}

func sameShadow(a, b map[string]accountRec) bool {
	return maps.EqualFunc(a, b, func(x, y accountRec) bool {
		return x.pw == y.pw && x.acct.Fingerprint == y.acct.Fingerprint && x.acct.Locked == y.acct.Locked
	})
}

// TestPassRefusesPasswordsTheVerifierCannotCheck: on a live system
// unix_chkpwd reads at most 511 bytes, so a longer password (CheckPassword
// allows 1024) is refused before anything is written, in either mode, and
// stays refused without a write on the passes after.
func TestPassRefusesPasswordsTheVerifierCannotCheck(t *testing.T) {
	const limit = 511
	long := strings.Repeat("p", 600)
	tests := []struct {
		name string
		tags map[string]string
		// prepare brings the instance to where the long password comes in.
		prepare func(t *testing.T, r *rotRig)
		pw      string
		wantErr bool
	}{
		{name: "pull, first pass, 600 bytes", tags: map[string]string{"serialpass:secret": "fleet/console"},
			prepare: func(t *testing.T, r *rotRig) {}, pw: long, wantErr: true},
		{name: "pull, new AWSCURRENT of 600 bytes over a live password", tags: map[string]string{"serialpass:secret": "fleet/console"},
			prepare: func(t *testing.T, r *rotRig) { putCurrent(t, r, "fleet/console", "Short-Passw0rd-1"); r.mustPass() },
			pw:      long, wantErr: true},
		{name: "rotate, AWSCURRENT replaced by hand with 600 bytes", tags: nil,
			prepare: func(t *testing.T, r *rotRig) { r.mustPass() }, pw: long, wantErr: true},
		{name: "pull, 511 bytes is still fine", tags: map[string]string{"serialpass:secret": "fleet/console"},
			prepare: func(t *testing.T, r *rotRig) {}, pw: strings.Repeat("p", limit)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRotRig(t, tt.tags)
			r.accounts.maxLen = limit
			tt.prepare(t, r)
			name := rigSecret
			if s := tt.tags["serialpass:secret"]; s != "" {
				name = s
			}
			putCurrent(t, r, name, `{"username":"`+rigUser+`","password":"`+tt.pw+`"}`)
			before, calls := shadowSnapshot(r.accounts), len(r.accounts.calls)

			res := r.pass()
			if !tt.wantErr {
				if !res.OK() || res.Status != agent.StatusReady {
					t.Fatalf("pass = %+v, want ready", res)
				}
				return
			}
			if res.OK() || res.Status != agent.StatusError {
				t.Fatalf("pass = %+v, want an error", res)
			}
			if want := "600 bytes, more than the 511"; !strings.Contains(res.Reason, want) {
				t.Errorf("reason %q does not say %q", res.Reason, want)
			}
			if strings.Contains(res.Reason, long[:20]) {
				t.Errorf("reason %q quotes the password", res.Reason)
			}
			if got := r.accounts.calls[calls:]; len(got) != 0 {
				t.Errorf("account calls %v, want none", got)
			}
			if !sameShadow(before, shadowSnapshot(r.accounts)) {
				t.Errorf("the account database changed:\n%v\nwant\n%v", shadowSnapshot(r.accounts), before)
			}
			// The next pass refuses again, still without writing.
			if res := r.pass(); res.OK() || len(r.accounts.calls) != calls {
				t.Errorf("second pass = %+v, account calls %v; want refused, none", res, r.accounts.calls[calls:])
			}
		})
	}
}

// putCurrent stores value as the AWSCURRENT version of name, creating the
// secret if needed.
func putCurrent(t *testing.T, r *rotRig, name, value string) {
	t.Helper()
	ctx := context.Background()
	if _, err := r.store.DescribeSecret(ctx, name); err != nil {
		if _, err := r.store.CreateSecret(ctx, agent.NewSecret{Name: name, Value: agent.NewPassword(value)}); err != nil {
			t.Fatal(err)
		}
		return
	}
	if _, err := r.store.PutSecretValue(ctx, name, "", agent.NewPassword(value), nil); err != nil {
		t.Fatal(err)
	}
}
