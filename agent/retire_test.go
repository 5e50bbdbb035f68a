package agent

import (
	"context"
	"slices"
	"testing"
)

func TestLockManaged(t *testing.T) {
	applied := State{Applied: Applied{User: "ec2-serial", Secret: "s", VersionID: "v1"}}
	rotating := State{Rotation: &Rotation{User: "ec2-serial", Secret: "serialpass/i-1", Token: "t"}}
	for _, tc := range []struct {
		name       string
		st         State
		locked     bool // the account's password is already locked
		exists     bool
		wantLocked string
		wantCalls  []string
	}{
		{name: "applied user", st: applied, exists: true, wantLocked: "ec2-serial", wantCalls: []string{"Lock"}},
		{name: "a rotation left open", st: rotating, exists: true, wantLocked: "ec2-serial", wantCalls: []string{"Lock"}},
		{name: "already locked", st: applied, exists: true, locked: true},
		{name: "account gone", st: applied},
		{name: "never managed", st: State{}, exists: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			acc := &fakeAccounts{accounts: map[string]*fakeAccount{}}
			if tc.exists {
				acc.accounts["ec2-serial"] = &fakeAccount{acct: Account{Name: "ec2-serial", UID: 1001, Locked: tc.locked}}
			}
			got, err := LockManaged(context.Background(), tc.st, acc)
			if err != nil || got != tc.wantLocked {
				t.Fatalf("LockManaged = %q, %v; want %q", got, err, tc.wantLocked)
			}
			if !slices.Equal(acc.calls, tc.wantCalls) {
				t.Errorf("calls %v, want %v", acc.calls, tc.wantCalls)
			}
			if tc.wantLocked != "" && !acc.accounts["ec2-serial"].acct.Locked {
				t.Error("the account is not locked")
			}
		})
	}
	t.Run("a bad name in the state is refused", func(t *testing.T) {
		acc := &fakeAccounts{accounts: map[string]*fakeAccount{}}
		if _, err := LockManaged(context.Background(), State{Applied: Applied{User: "a;b"}}, acc); err == nil || len(acc.calls) != 0 {
			t.Errorf("err = %v, calls %v; want a refusal before any call", err, acc.calls)
		}
	})
}
