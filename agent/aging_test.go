package agent

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestAgingProblems(t *testing.T) {
	tests := []struct {
		name  string
		aging Aging
		want  []string // substrings, in order; none: no problem
	}{
		{name: "none", aging: noAging},
		{name: "empty last change is no aging", aging: Aging{LastChange: -1, MinDays: -1, MaxDays: -1, WarnDays: -1, Inactive: -1, Expire: -1}},
		{name: "change at next login", aging: Aging{LastChange: 0, MaxDays: -1, Inactive: -1, Expire: -1}, want: []string{"changed at the next login"}},
		{name: "CIS login.defs", aging: Aging{LastChange: 20790, MinDays: 1, MaxDays: 90, WarnDays: 14, Inactive: 30, Expire: -1},
			want: []string{"minimum password age of 1 days", "expires 90 days after", "disabled 30 days after"}},
		{name: "Debian's 99999 days is still a maximum", aging: Aging{LastChange: 20790, MaxDays: 99999, WarnDays: 7, Inactive: -1, Expire: -1},
			want: []string{"expires 99999 days after"}},
		{name: "maximum of 0 days", aging: Aging{LastChange: 20790, MaxDays: 0, Inactive: -1, Expire: -1}, want: []string{"expires 0 days after"}},
		{name: "account expiry date", aging: Aging{LastChange: 20790, MaxDays: -1, Inactive: -1, Expire: 21915}, want: []string{"account expires on 2030-01-01"}},
		{name: "expiry on day 0", aging: Aging{LastChange: 20790, MaxDays: -1, Inactive: -1, Expire: 0}, want: []string{"account expires on 1970-01-01"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.aging.Problems()
			if len(got) != len(tt.want) {
				t.Fatalf("Problems() = %q, want %d matching %q", got, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("Problems()[%d] = %q, want it to contain %q", i, got[i], w)
				}
			}
		})
	}
}

// TestPassRemovesAging: every pass that leaves the user ready takes password
// aging and account expiry off the account, or fails saying why.
func TestPassRemovesAging(t *testing.T) {
	cis := Aging{LastChange: 20790, MinDays: 1, MaxDays: 90, WarnDays: 14, Inactive: 30, Expire: -1}
	tests := []struct {
		name  string
		aging *Aging // set on the account after the first pass; nil: none known
		setup func(r *rig)
		// want: the second pass's status, whether it called RemoveAging, and
		// words of its reason.
		wantStatus string
		wantRemove bool
		wantReason string
	}{
		{name: "no aging: nothing to do", aging: &noAging, wantStatus: StatusReady},
		{name: "aging unknown: nothing to do", aging: nil, wantStatus: StatusReady},
		{name: "CIS aging is removed", aging: &cis, wantStatus: StatusReady, wantRemove: true},
		{name: "change at next login is removed", aging: &Aging{LastChange: 0, MaxDays: -1, Inactive: -1, Expire: -1}, wantStatus: StatusReady, wantRemove: true},
		{name: "expiry date ahead is removed", aging: &Aging{LastChange: 20790, MaxDays: -1, Inactive: -1, Expire: 21915}, wantStatus: StatusReady, wantRemove: true},
		{name: "chage fails", aging: &cis, setup: func(r *rig) { r.accounts.removeErr = errors.New("chage: exit status 1") },
			wantStatus: StatusError, wantRemove: true, wantReason: `user "ec2-serial" has password aging (a minimum password age of 1 days; the password expires 90 days after its last change; the account is disabled 30 days after the password expires): chage: exit status 1`},
		{name: "chage leaves the aging", aging: &cis, setup: func(r *rig) { r.accounts.removeKeeps = true },
			wantStatus: StatusError, wantRemove: true, wantReason: "still has password aging after removing it"},
		{name: "expired by enable-until: left alone", aging: &cis,
			setup:      func(r *rig) { r.tags.tags["serialpass:enable-until"] = "2026-12-01T00:00:00Z" },
			wantStatus: StatusExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, map[string]string{"serialpass:secret": "fleet/console"})
			r.secrets.put("fleet/console", "v1", goodPW)
			if res := r.agent.Pass(context.Background()); !res.OK() || res.Status != StatusReady {
				t.Fatalf("first pass = %+v", res)
			}
			if slices.Contains(r.accounts.calls, "RemoveAging") {
				t.Errorf("the first pass removed aging from a fresh account: %v", r.accounts.calls)
			}
			a := r.accounts.accounts["ec2-serial"]
			a.acct.Aging = tt.aging
			if tt.setup != nil {
				tt.setup(r)
			}
			fp, calls := a.acct.Fingerprint, len(r.accounts.calls)

			res := r.agent.Pass(context.Background())
			if res.Status != tt.wantStatus || !strings.Contains(res.Reason, tt.wantReason) {
				t.Fatalf("second pass = %+v, want status %s, reason with %q", res, tt.wantStatus, tt.wantReason)
			}
			if got := slices.Contains(r.accounts.calls[calls:], "RemoveAging"); got != tt.wantRemove {
				t.Errorf("RemoveAging called = %v, want %v (calls %v)", got, tt.wantRemove, r.accounts.calls[calls:])
			}
			if slices.Contains(r.accounts.calls[calls:], "SetPassword") || a.acct.Fingerprint != fp {
				t.Errorf("the password was set again (calls %v)", r.accounts.calls[calls:])
			}
			if tt.wantStatus != StatusReady {
				return
			}
			if tt.wantRemove != res.Changed {
				t.Errorf("Changed = %v, want %v", res.Changed, tt.wantRemove)
			}
			// Steady again: no further call.
			calls = len(r.accounts.calls)
			r.agent.Clock.(*fakeClock).now = r.agent.Clock.Now().Add(time.Minute)
			if res := r.agent.Pass(context.Background()); !res.OK() || res.Changed || len(r.accounts.calls) != calls {
				t.Errorf("third pass = %+v, calls %v; want ready, unchanged, none", res, r.accounts.calls[calls:])
			}
		})
	}
}
