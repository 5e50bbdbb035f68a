package agent

import (
	"context"
	"fmt"
)

// When serialpass is removed (`serialpass cleanup`, which package removal
// runs), the console-only lines go, and with them what kept the
// break-glass password to ttyS0: left as it is, the last password set would
// work over SSH and on every terminal, and nothing would rotate it again.
// So removal locks it. The account and its home stay; a later install's
// first pass applies the secret again, which unlocks it.

// ManagedUser is the user whose password the state says serialpass set,
// or is setting in a rotation left open; "" when none.
func ManagedUser(st State) string {
	if st.Applied.User != "" {
		return st.Applied.User
	}
	if st.Rotation != nil {
		return st.Rotation.User
	}
	return ""
}

// LockManaged locks the password of the state's managed user, if the
// account exists and its password still works. It returns the user it
// locked, "" when there was nothing to lock.
func LockManaged(ctx context.Context, st State, accounts AccountManager) (string, error) {
	user := ManagedUser(st)
	if user == "" {
		return "", nil
	}
	if err := ValidUserName(user); err != nil {
		return "", fmt.Errorf("the state names the user %q: %w", user, err)
	}
	acct, ok, err := accounts.Lookup(ctx, user)
	switch {
	case err != nil:
		return "", fmt.Errorf("looking up user %q: %w", user, err)
	case !ok || acct.Locked:
		return "", nil
	}
	if err := accounts.Lock(ctx, user); err != nil {
		return "", err
	}
	return user, nil
}
