package agent

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// The managed account is a break-glass login: a password that expires, an
// account that is disabled after an inactivity period or at an expiry date,
// or a forced change at the next login would lock out the person at the
// serial console (and a password changed there leaves the secret). So the
// account carries none of them: useradd creates it so, and every pass that
// leaves the user ready checks etc/shadow again and removes what a
// hardened login.defs, an administrator or a configuration tool added.
// Access is limited in time with enable-until, never with shadow aging.

// Problems lists what in g can keep the password from logging in, or
// limits it, worded for a reason; nil when nothing does.
func (g Aging) Problems() []string {
	var out []string
	if g.LastChange == 0 {
		out = append(out, "the password must be changed at the next login")
	}
	if g.MinDays > 0 {
		out = append(out, fmt.Sprintf("a minimum password age of %d days", g.MinDays))
	}
	if g.MaxDays >= 0 {
		out = append(out, fmt.Sprintf("the password expires %d days after its last change", g.MaxDays))
	}
	if g.Inactive >= 0 {
		out = append(out, fmt.Sprintf("the account is disabled %d days after the password expires", g.Inactive))
	}
	if g.Expire >= 0 {
		out = append(out, "the account expires on "+time.Unix(g.Expire*86400, 0).UTC().Format(time.DateOnly))
	}
	return out
}

// removeAging runs after a pass that left the user ready: it takes any
// password aging or account expiry off the account, and fails the pass
// when that cannot be done.
func (a *Agent) removeAging(ctx context.Context, res Result) Result {
	if res.Status != StatusReady || res.User == "" {
		return res
	}
	acct, ok, err := a.Accounts.Lookup(ctx, res.User)
	switch {
	case err != nil:
		return a.fail(res, err)
	case !ok:
		return a.fail(res, fmt.Errorf("user %q disappeared during the pass", res.User))
	case acct.Aging == nil:
		return res
	}
	problems := acct.Aging.Problems()
	if len(problems) == 0 {
		return res
	}
	what := strings.Join(problems, "; ")
	if err := a.Accounts.RemoveAging(ctx, res.User); err != nil {
		return a.fail(res, fmt.Errorf("user %q has password aging (%s): %w", res.User, what, err))
	}
	after, ok, err := a.Accounts.Lookup(ctx, res.User)
	switch {
	case err != nil:
		return a.fail(res, err)
	case !ok:
		return a.fail(res, fmt.Errorf("user %q disappeared while removing its password aging", res.User))
	case after.Aging != nil && len(after.Aging.Problems()) > 0:
		return a.fail(res, fmt.Errorf("user %q still has password aging after removing it: %s", res.User, strings.Join(after.Aging.Problems(), "; ")))
	}
	a.Log.Info("password aging removed", "user", res.User, "was", what)
	res.Changed = true
	return res
}
