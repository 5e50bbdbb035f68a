package agent

import (
	"context"
	"errors"
	"fmt"
)

// The local side of rotate mode: reading a version's password, asking the
// Verifier, applying with a check.

// versionPassword reads version vid and extracts the password for user.
func (a *Agent) versionPassword(ctx context.Context, name, user, vid string) (Password, string, error) {
	v, err := a.Admin.GetSecretVersion(ctx, name, vid)
	if err != nil {
		return Password{}, "", secretError(name, err)
	}
	pw, err := ParseSecret(v.Value, user)
	if err != nil {
		return Password{}, "", fmt.Errorf("secret %q version %s: %w", name, shortID(vid), err)
	}
	return pw, vid, nil
}

// verifies tells whether the local hash accepts pw. A missing or locked
// account accepts nothing; a failure to check at all is an error, never a
// guess.
func (a *Agent) verifies(ctx context.Context, t target, pw Password) (bool, error) {
	if !t.exists || t.acct.Locked {
		return false, nil
	}
	err := a.Verifier.Verify(ctx, t.set.User, pw)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, ErrWrongPassword):
		return false, nil
	default:
		return false, fmt.Errorf("checking the local password: %w", err)
	}
}

// applyVerified sets pw locally (creating the account if needed) and
// checks that the new hash verifies it; t is updated to the account as it
// is afterwards.
func (a *Agent) applyVerified(ctx context.Context, t *target, pw Password) (Account, error) {
	missing := missingGroups(t.acct.Groups, t.groups)
	if err := a.apply(ctx, t.set.User, t.exists, t.spec(), missing, pw); err != nil {
		return Account{}, err
	}
	after, ok, err := a.Accounts.Lookup(ctx, t.set.User)
	switch {
	case err != nil:
		return Account{}, err
	case !ok || after.Locked:
		return Account{}, fmt.Errorf("user %q is still locked after setting the password", t.set.User)
	}
	t.acct, t.exists = after, true
	if err := a.Verifier.Verify(ctx, t.set.User, pw); err != nil {
		return Account{}, fmt.Errorf("the new password does not verify after setting it: %w", err)
	}
	return after, nil
}
