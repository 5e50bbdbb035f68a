package agent

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// Resolving what a crash, a failure or a change of tags left open, before
// a rotate-mode pass does anything else.

// resolve settles what a crash or a failure left open, before anything
// else happens: the recorded token, or an AWSPENDING label found on the
// secret. It finds which stored version the local hash verifies and rolls
// forward from there; it never generates a password. It returns the
// labels as they are afterwards, and the stored passwords it read, which
// the caller scrubs from a failure's reason as every rotation step does.
func (a *Agent) resolve(ctx context.Context, st *State, res *Result, t *target, name string, lb labels) (labels, []Password, error) {
	var goal string
	var seen []Password
	if r := st.Rotation; r != nil {
		if len(lb.versions[r.Token]) > 0 {
			goal = r.Token
		} else {
			// Neither PutSecretValue nor CreateSecret landed: the local
			// password never changed. The token is dropped, not re-sent.
			a.Log.Info("the recorded rotation never reached the store; dropping it", "token", r.Token)
			st.Rotation = nil
		}
	}
	if goal == "" && lb.pending != "" && lb.pending != lb.current {
		// AWSPENDING on a version no rotation of ours is known to own
		// (a lost state file, or a request that landed late).
		pw, vid, err := a.versionPassword(ctx, name, t.set.User, lb.pending)
		if err != nil {
			return lb, seen, err
		}
		seen = append(seen, pw)
		ok, err := a.verifies(ctx, *t, pw)
		switch {
		case err != nil:
			return lb, seen, err
		case ok:
			a.Log.Info("the local password is the AWSPENDING version: rolling forward", "version", vid)
			goal = vid
		default:
			a.Log.Info("removing AWSPENDING from a version that is neither current nor in progress", "version", vid)
			if err := a.Admin.UpdateSecretVersionStage(ctx, name, StagePending, "", vid); err != nil {
				return lb, seen, fmt.Errorf("clearing a stale AWSPENDING (secretsmanager:UpdateSecretVersionStage): %w", err)
			}
			delete(lb.versions, vid)
			lb.pending = ""
		}
	}
	if goal == "" {
		if lb.pending != "" { // on AWSCURRENT's version: step 4's tail
			if err := a.Admin.UpdateSecretVersionStage(ctx, name, StagePending, "", lb.pending); err != nil {
				return lb, seen, fmt.Errorf("clearing AWSPENDING (secretsmanager:UpdateSecretVersionStage): %w", err)
			}
			lb.pending = ""
		}
		return lb, seen, nil
	}
	if err := a.announceRotating(ctx, st, *res, res.VersionID, goal); err != nil {
		return lb, seen, err
	}
	pw, _, err := a.versionPassword(ctx, name, t.set.User, goal)
	if err != nil {
		return lb, seen, err
	}
	seen = append(seen, pw)
	ok, err := a.verifies(ctx, *t, pw)
	if err != nil {
		return lb, seen, err
	}
	if !ok {
		// Steps 2 done, 3 not (or undone): apply the stored new password.
		a.Log.Info("rolling an open rotation forward: applying the new version locally", "version", goal)
		if _, err := a.applyVerified(ctx, t, pw); err != nil {
			return lb, seen, err
		}
	} else {
		a.Log.Info("rolling an open rotation forward: the local password is already the new version", "version", goal)
	}
	if err := a.promote(ctx, st, name, goal, lb.current, slices.Contains(lb.versions[goal], StagePending)); err != nil {
		return lb, seen, err
	}
	*res = a.finish(st, *res, *t, name, goal, true)
	return labels{current: goal, versions: map[string][]string{goal: {StageCurrent}}, changed: lb.changed}, seen, nil
}

// settleOther resolves a rotation left open on another secret or user (the
// tags changed in between) before anything else happens, so AWSPENDING is
// never left on a version that is neither current nor in progress. Like
// resolve, it returns the stored passwords it read, for the caller to
// scrub.
func (a *Agent) settleOther(ctx context.Context, st *State) ([]Password, error) {
	r := st.Rotation
	a.Log.Warn("the tags changed while a rotation was open; settling it first", "secret", r.Secret, "user", r.User)
	info, err := a.Admin.DescribeSecret(ctx, r.Secret)
	if errors.Is(err, ErrSecretNotFound) {
		st.Rotation = nil // its secret is gone, and its version with it
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("settling the open rotation of secret %q: %w", r.Secret, err)
	}
	acct, exists, err := a.Accounts.Lookup(ctx, r.User)
	if err != nil {
		return nil, fmt.Errorf("settling the open rotation of secret %q: %w", r.Secret, err)
	}
	if !exists {
		// Nobody can hold the pending password: take the label off.
		if slices.Contains(info.Versions[r.Token], StagePending) {
			if err := a.Admin.UpdateSecretVersionStage(ctx, r.Secret, StagePending, "", r.Token); err != nil {
				return nil, fmt.Errorf("clearing AWSPENDING of secret %q (secretsmanager:UpdateSecretVersionStage): %w", r.Secret, err)
			}
		}
		st.Rotation = nil
		return nil, nil
	}
	old := target{set: Settings{User: r.User, Mode: ModeRotate}, acct: acct, exists: true, groups: acct.Groups, shell: acct.Shell}
	var res Result
	_, seen, err := a.resolve(ctx, st, &res, &old, r.Secret, labelsOf(info))
	if err != nil {
		return seen, fmt.Errorf("settling the open rotation of secret %q: %w", r.Secret, err)
	}
	st.Rotation = nil
	return nil, nil
}
