package agent

// Rotate mode: the LAPS model. Each instance owns a secret of its own
// (secret_template, "serialpass/{instance-id}"), creates it when missing,
// generates its password locally and rotates it with Secrets Manager's
// staging labels, so AWS tooling and people see where a rotation stands:
//
//  1. record the new version's ClientRequestToken in the state file;
//  2. PutSecretValue(token, [AWSPENDING]);
//  3. set the password locally and check that the new hash verifies it;
//  4. UpdateSecretVersionStage: AWSCURRENT to the new version (removed
//     from the old one, which becomes AWSPREVIOUS), then AWSPENDING off
//     the new version;
//  5. report ready with the new VersionId.
//
// THE INVARIANT, kept by that order and restored by resolve at the start
// of every pass: at every instant, the local password is the one in
// AWSCURRENT, or the one in AWSPENDING while the instance's status is
// `rotating` (a Rotation is recorded in the state file). The password is
// never set locally before its version exists in the store (step 2 before
// 3), and AWSCURRENT never moves before the local hash verifies the new
// password (3 before 4). A crash anywhere leaves a recorded token: the
// next pass asks the store what exists (DescribeSecret), never re-sends a
// PutSecretValue for a token that has a version, and rolls forward.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// target is the account a pass works on, as the pull checks resolved it.
type target struct {
	set    Settings
	acct   Account
	exists bool
	groups []string
	shell  string
}

func (t target) spec() AccountSpec {
	return AccountSpec{Name: t.set.User, Groups: t.groups, Shell: t.shell}
}

// labels tells which version holds each staging label, and when the
// store last saw the secret change.
type labels struct {
	current, pending string
	versions         map[string][]string
	changed          time.Time
}

func labelsOf(info SecretInfo) labels {
	l := labels{versions: info.Versions, changed: info.LastChanged}
	for id, stages := range info.Versions {
		if slices.Contains(stages, StageCurrent) {
			l.current = id
		}
		if slices.Contains(stages, StagePending) {
			l.pending = id
		}
	}
	return l
}

// reconcileRotate is the pass of rotate mode. Steady state costs one
// DescribeSecret and nothing else.
func (a *Agent) reconcileRotate(ctx context.Context, st *State, res Result, t target) Result {
	if a.Admin == nil || a.Verifier == nil {
		return a.fail(res, errors.New("rotate mode is not available in this build (no secret admin or verifier)"))
	}
	name := a.secretName(t.set)
	res.Secret = name
	sessions := a.sessions(ctx, st, t.set.User)
	res.LastLogin = st.LastLogin
	// enable-until first: locking needs no AWS call, so an expired
	// instance is locked even when Secrets Manager cannot be reached.
	wasExpired := st.Expired
	if r, done := a.expire(ctx, st, res, t); done {
		return r
	}
	if wasExpired {
		// Access re-enabled: whoever had the password must not keep it.
		// Recorded now, so a failure below cannot turn it into an
		// unlock with the old password.
		st.RotateRequested = a.Clock.Now().UTC()
		st.FreshPending = true
	}
	if r := st.Rotation; r != nil && (r.Secret != name || r.User != t.set.User) {
		if seen, err := a.settleOther(ctx, st); err != nil {
			return a.failRotate(st, res, err, seen...)
		}
	}
	info, err := a.Admin.DescribeSecret(ctx, name)
	if errors.Is(err, ErrSecretNotFound) {
		return a.create(ctx, st, res, t, name)
	}
	if err != nil {
		return a.failRotate(st, res, fmt.Errorf("describing secret %q: %w", name, err))
	}
	lb := labelsOf(info)
	if st.Rotation != nil || lb.pending != "" {
		var seen []Password
		if lb, seen, err = a.resolve(ctx, st, &res, &t, name, lb); err != nil {
			return a.failRotate(st, res, err, seen...)
		}
	}
	var out Result
	switch why := a.rotationDue(st, t, name, lb, sessions); {
	case why != "":
		out = a.rotate(ctx, st, res, t, name, lb.current, why)
	case st.FreshPending && t.exists && t.acct.Locked:
		// Re-enabled within 10 minutes of the last rotation: stay locked
		// until the fresh password may be made, never unlock with the
		// password of before the expiry.
		next := nextRotation(st, lb).UTC().Format(time.RFC3339)
		out = res
		out.Status = StatusExpired
		out.Reason = "access re-enabled: the password is unlocked with a fresh one at " + next + " (at most one rotation per 10 minutes)"
	default:
		out = a.ensureCurrent(ctx, st, res, t, name, lb.current)
	}
	if out.Status == StatusReady {
		lb.current = out.VersionID
	}
	out.NextPass = earliest(out.NextPass, a.nextDue(st, t, name, lb, sessions))
	if !st.RotateRequested.IsZero() {
		out.RotateAt = nextRotation(st, lb) // a request still waiting
	}
	return out
}

// announceRotating reports `rotating` before a rotation's first write to
// the store or to the local password: while the local password may be
// the one in AWSPENDING, the instance says so. live is the version live
// locally until the rotation lands, next the one it moves to.
func (a *Agent) announceRotating(ctx context.Context, st *State, res Result, live, next string) error {
	reason := "rotation in progress"
	if next != "" {
		reason = "rotating to version " + shortID(next)
	}
	return a.announce(ctx, st, Report{Status: StatusRotating, VersionID: live, Reason: reason, LastLogin: res.LastLogin})
}

// failRotate fails the pass; with a rotation open the status stays
// `rotating` (the reason says what failed), as the invariant requires.
func (a *Agent) failRotate(st *State, res Result, err error, secrets ...Password) Result {
	res = a.fail(res, err, secrets...)
	if st.Rotation != nil {
		res.Status = StatusRotating
	}
	return res
}

// begin records a new rotation and saves the state: nothing reaches AWS
// before the token is on disk.
func (a *Agent) begin(st *State, phase, name, user, from string) (string, Password, error) {
	token, err := newToken()
	if err != nil {
		return "", Password{}, err
	}
	pw, err := GeneratePassword(a.Config.PasswordLength, a.Config.PasswordAlphabet)
	if err != nil {
		return "", Password{}, err
	}
	st.Rotation = &Rotation{Secret: name, User: user, Token: token, From: from, Phase: phase, Started: a.Clock.Now().UTC()}
	if err := a.State.Save(*st); err != nil {
		st.Rotation = nil
		return "", Password{}, fmt.Errorf("recording the rotation before calling AWS: %w", err)
	}
	return token, pw, nil
}

// create makes the instance's secret with a fresh password and applies it.
// If the create succeeded but the local apply did not, the next pass
// resolves (the recorded token then names the AWSCURRENT version).
func (a *Agent) create(ctx context.Context, st *State, res Result, t target, name string) Result {
	if st.Rotation != nil {
		// The secret does not exist: the recorded create never landed.
		a.Log.Info("the recorded secret creation never happened; starting over", "secret", name)
		st.Rotation = nil
	}
	token, pw, err := a.begin(st, PhaseCreate, name, t.set.User, "")
	if err != nil {
		return a.fail(res, err)
	}
	if t.exists && !t.acct.Locked {
		// The account has a password of its own, which AWSCURRENT stops
		// holding the moment the secret exists.
		if err := a.announceRotating(ctx, st, res, res.VersionID, token); err != nil {
			st.Rotation = nil // nothing was sent to the store
			return a.fail(res, err)
		}
	}
	value := secretValue(t.set.User, pw)
	v, err := a.Admin.CreateSecret(ctx, NewSecret{
		Name:        name,
		Description: a.expand(a.Config.SecretDescription),
		KMSKeyID:    a.Config.KMSKeyID,
		Tags: map[string]string{
			a.Config.TagPrefix + "instance-id": a.Identity.InstanceID,
			a.Config.TagPrefix + "user":        t.set.User,
		},
		Token: token,
		Value: value,
	})
	if err != nil {
		return a.failRotate(st, res, fmt.Errorf("creating secret %q (secretsmanager:CreateSecret): %w", name, err), pw, value)
	}
	st.Rotation.Phase = PhaseCurrent
	res.VersionID = v.VersionID
	if _, err := a.applyVerified(ctx, &t, pw); err != nil {
		return a.failRotate(st, res, err, pw, value)
	}
	a.Log.Info("secret created and password applied", "secret", name, "user", t.set.User, "version", v.VersionID)
	return a.finish(st, res, t, name, v.VersionID, true)
}

// rotate runs the protocol from step 1 with a fresh password.
func (a *Agent) rotate(ctx context.Context, st *State, res Result, t target, name, from, why string) Result {
	token, pw, err := a.begin(st, PhaseRecorded, name, t.set.User, from)
	if err != nil {
		return a.fail(res, err)
	}
	a.Log.Info("rotating", "secret", name, "user", t.set.User, "why", why, "token", token)
	if err := a.announceRotating(ctx, st, res, res.VersionID, token); err != nil {
		st.Rotation = nil // nothing was sent to the store
		return a.fail(res, err)
	}
	value := secretValue(t.set.User, pw)
	vid, err := a.Admin.PutSecretValue(ctx, name, token, value, []string{StagePending})
	if err != nil {
		return a.failRotate(st, res, fmt.Errorf("storing the new password (secretsmanager:PutSecretValue): %w", err), pw, value)
	}
	if vid == "" {
		vid = token
	}
	st.Rotation.Phase = PhasePending
	if _, err := a.applyVerified(ctx, &t, pw); err != nil {
		return a.failRotate(st, res, err, pw, value)
	}
	st.Rotation.Phase = PhaseApplied
	if err := a.promote(ctx, st, name, vid, from, true); err != nil {
		return a.failRotate(st, res, err)
	}
	return a.finish(st, res, t, name, vid, true)
}

// promote runs step 4: AWSCURRENT to vid (off from), then AWSPENDING off
// vid. RemoveFromVersionId is always given: a label moved without it may
// end up on two versions.
func (a *Agent) promote(ctx context.Context, st *State, name, vid, from string, pending bool) error {
	if from == "" {
		// A secret's first version is AWSCURRENT as soon as it exists,
		// whatever VersionStages asked for (a secret created empty, by
		// an operator or Terraform): then there is nothing to move.
		info, err := a.Admin.DescribeSecret(ctx, name)
		if err != nil {
			return fmt.Errorf("reading the labels of the new version (secretsmanager:DescribeSecret): %w", err)
		}
		if slices.Contains(info.Versions[vid], StageCurrent) {
			from = vid
		}
	}
	if from != vid {
		if err := a.Admin.UpdateSecretVersionStage(ctx, name, StageCurrent, vid, from); err != nil {
			return fmt.Errorf("moving AWSCURRENT to the new version (secretsmanager:UpdateSecretVersionStage): %w", err)
		}
	}
	if st.Rotation != nil {
		st.Rotation.Phase = PhaseCurrent
	}
	if pending {
		if err := a.Admin.UpdateSecretVersionStage(ctx, name, StagePending, "", vid); err != nil {
			return fmt.Errorf("clearing AWSPENDING (secretsmanager:UpdateSecretVersionStage): %w", err)
		}
	}
	return nil
}

// finish closes a rotation: the version is live locally and in AWSCURRENT.
func (a *Agent) finish(st *State, res Result, t target, name, vid string, rotated bool) Result {
	now := a.Clock.Now().UTC()
	st.Rotation = nil
	if rotated {
		st.LastRotation = now
		st.RotatedVersion = vid
		st.RotateNonce = t.set.RotateNonce
		st.RotateRequested = time.Time{}
		st.FreshPending = false
		res.Rotated = true
		res.Changed = true
	}
	st.Applied = Applied{User: t.set.User, Secret: name, VersionID: vid, Fingerprint: t.acct.Fingerprint, Time: now}
	res.VersionID = vid
	res.Status = StatusReady
	return res
}

// ensureCurrent is the steady state: AWSCURRENT is live locally. When the
// record matches it costs nothing; otherwise the AWSCURRENT value is read
// and applied unless the local hash already verifies it.
func (a *Agent) ensureCurrent(ctx context.Context, st *State, res Result, t target, name, current string) Result {
	missing := missingGroups(t.acct.Groups, t.groups)
	if current != "" && t.exists && !t.acct.Locked && len(missing) == 0 && st.Applied == (Applied{
		User: t.set.User, Secret: name, VersionID: current, Fingerprint: t.acct.Fingerprint, Time: st.Applied.Time,
	}) {
		res.VersionID = current
		res.Status = StatusReady
		return res
	}
	sv, err := a.Admin.GetSecret(ctx, name, StageCurrent)
	if err != nil {
		return a.fail(res, secretError(name, err))
	}
	pw, err := ParseSecret(sv.Value, t.set.User)
	if err == nil {
		err = a.checkVerifiable(pw)
	}
	if err != nil {
		return a.fail(res, fmt.Errorf("secret %q version %s: %w", name, shortID(sv.VersionID), err))
	}
	ok, err := a.verifies(ctx, t, pw)
	if err != nil {
		return a.fail(res, err, pw)
	}
	if !ok {
		if _, err := a.applyVerified(ctx, &t, pw); err != nil {
			return a.fail(res, err, pw)
		}
		res.Changed = true
		a.Log.Info("password applied", "user", t.set.User, "secret", name, "version", sv.VersionID)
	} else if len(missing) > 0 {
		if err := a.Accounts.AddGroups(ctx, t.set.User, missing); err != nil {
			return a.fail(res, err)
		}
		res.Changed = true
	}
	if st.LastRotation.IsZero() {
		// Adopting a secret we have no record of: its age starts now.
		// The rotate tag is not marked as seen: with no record, it may
		// be a request that was never honoured, and a rotation it asked
		// for may just have waited for the store's 10 minutes.
		st.LastRotation = a.Clock.Now().UTC()
	}
	return a.finish(st, res, t, name, sv.VersionID, false)
}
