package agent

import (
	"context"
	"hash/fnv"
	"strings"
	"time"
)

// Why a rotation starts, for the log.
const (
	whyRequested = "requested (serialpass rotate)"
	whyNonce     = "rotate tag changed"
	whyUsed      = "the user's login session ended"
	whyAge       = "max age reached"
	whyNoCurrent = "the secret has no AWSCURRENT version"
)

// maxJitter bounds how much earlier than its max age a password may be
// rotated, so a fleet started together does not rotate together.
const maxJitter = 24 * time.Hour

// InstanceIDVar is replaced by the instance id in rotate mode's secret
// name and description.
const InstanceIDVar = "{instance-id}"

// SecretName is the secret a pass works on: in pull mode the secret tag as
// it is; in rotate mode the tag or else the config's secret_template, with
// InstanceIDVar replaced (left as is while instanceID is unknown).
func SecretName(set Settings, cfg Config, instanceID string) string {
	if set.Mode != ModeRotate {
		return set.Secret
	}
	name := set.Secret
	if name == "" {
		name = cfg.SecretTemplate
	}
	return expandInstanceID(name, instanceID)
}

// secretName is SecretName for this instance.
func (a *Agent) secretName(s Settings) string {
	return SecretName(s, a.Config, a.Identity.InstanceID)
}

func (a *Agent) expand(s string) string {
	return expandInstanceID(s, a.Identity.InstanceID)
}

func expandInstanceID(s, instanceID string) string {
	if instanceID == "" {
		return s
	}
	return strings.ReplaceAll(s, InstanceIDVar, instanceID)
}

// rotationDue returns why a rotation should start now, or "". Every
// trigger that comes within MinRotationInterval of the last rotation
// waits (requests stay recorded and are honoured later), except a secret
// without an AWSCURRENT version: then the store holds no password anyone
// could use, so waiting only prolongs a console nobody can log in to, and
// the rotation adds the first current version instead of replacing one
// (it happens once: afterwards AWSCURRENT exists).
func (a *Agent) rotationDue(st *State, t target, name string, lb labels, sessions []Session) string {
	now := a.Clock.Now()
	why := ""
	switch {
	case lb.current == "":
		why = whyNoCurrent
	case !st.RotateRequested.IsZero():
		why = whyRequested
	case t.set.RotateNonce != "" && t.set.RotateNonce != st.RotateNonce:
		why = whyNonce
	case a.usedSince(st, sessions, now):
		why = whyUsed
	case !st.LastRotation.IsZero() && !now.Before(a.ageDue(st, t, name)):
		why = whyAge
	}
	if why == "" || why == whyNoCurrent {
		return why
	}
	if next := nextRotation(st, lb); now.Before(next) {
		a.Log.Info("rotation deferred: at most one per secret every 10 minutes", "why", why, "at", next.UTC().Format(time.RFC3339))
		return ""
	}
	return why
}

// nextRotation is when the secret may be rotated again: MinRotationInterval
// after the later of this instance's last rotation and the store's last
// change of the secret. The store's date covers what the local record
// cannot know: a state file lost since (no LastRotation) and instances
// that share the secret, each with a state of its own.
//
// While AWSCURRENT is still the version of this instance's own last
// rotation, the local record alone counts: it was written after that
// rotation's PutSecretValue, so the store's date adds nothing but the
// skew between the two clocks (and tests that age the state file to skip
// the 10 minutes keep working against an emulator whose dates are real).
func nextRotation(st *State, lb labels) time.Time {
	last := st.LastRotation
	ours := st.RotatedVersion != "" && st.RotatedVersion == lb.current
	if !ours && lb.changed.After(last) {
		last = lb.changed
	}
	return last.Add(MinRotationInterval)
}

// ageDue is when the password reaches its max age, brought forward by a
// jitter that is stable for one password and differs across secrets.
func (a *Agent) ageDue(st *State, t target, name string) time.Time {
	maxAge := t.set.MaxAge
	if maxAge <= 0 {
		maxAge = a.Config.MaxAge.D()
	}
	return st.LastRotation.Add(maxAge - jitter(name, st.LastRotation, maxAge))
}

// jitter is a deterministic fraction of min(maxAge/10, maxJitter).
func jitter(name string, since time.Time, maxAge time.Duration) time.Duration {
	h := fnv.New64a()
	h.Write([]byte(name))
	h.Write([]byte(since.UTC().Format(time.RFC3339Nano)))
	span := min(maxAge/10, maxJitter)
	if span <= 0 {
		return 0
	}
	return time.Duration(h.Sum64() % uint64(span))
}

// sessions reads the user's sessions and remembers the latest login.
// Unreadable records only cost post-use detection, never the pass.
func (a *Agent) sessions(ctx context.Context, st *State, user string) []Session {
	if a.Sessions == nil {
		return nil
	}
	ss, err := a.Sessions.Sessions(ctx, user)
	if err != nil {
		a.Log.Warn("cannot read login records; no rotation after use", "err", err)
		return nil
	}
	for _, s := range ss {
		if s.Login.After(st.LastLogin) {
			st.LastLogin = s.Login.UTC()
		}
	}
	return ss
}

// usedSince tells whether the user logged in after the last rotation and
// every such session ended at least rotate_after_use ago.
func (a *Agent) usedSince(st *State, ss []Session, now time.Time) bool {
	grace := a.Config.RotateAfterUse.D()
	if grace <= 0 {
		return false
	}
	ended, used := lastUse(st, ss)
	return used && !now.Before(ended.Add(grace))
}

// lastUse returns when the last session that began after the last
// rotation ended; used is false when there was none, or one is still
// open (still logged in: wait for the end).
func lastUse(st *State, ss []Session) (ended time.Time, used bool) {
	if st.LastRotation.IsZero() {
		return time.Time{}, false
	}
	for _, s := range ss {
		if !s.Login.After(st.LastRotation) {
			continue
		}
		if s.Logout.IsZero() {
			return time.Time{}, false
		}
		used = true
		if s.Logout.After(ended) {
			ended = s.Logout
		}
	}
	return ended, used
}

// nextDue is when a rotate-mode pass next has something to do on its own,
// after the pass that computes it: the end of the 10-minute wait of a
// rotation asked for, the end of the post-use grace delay, the max-age due
// date, each no earlier than the 10-minute rule allows. Zero: none.
func (a *Agent) nextDue(st *State, t target, name string, lb labels, sessions []Session) time.Time {
	now, gate := a.Clock.Now(), nextRotation(st, lb)
	var next time.Time
	due := func(at time.Time) {
		if at.Before(gate) {
			at = gate
		}
		if at.After(now) {
			next = earliest(next, at)
		}
	}
	if !st.RotateRequested.IsZero() || st.FreshPending || (t.set.RotateNonce != "" && t.set.RotateNonce != st.RotateNonce) {
		due(gate)
	}
	if grace := a.Config.RotateAfterUse.D(); grace > 0 {
		if ended, used := lastUse(st, sessions); used {
			due(ended.Add(grace))
		} else if inUse(st, sessions) {
			// Still logged in: look for the session's end again after the
			// grace delay (a minute at least), so that the rotation after
			// use is at most that late when the interval is longer.
			due(now.Add(max(grace, sessionRecheck)))
		}
	}
	if !st.LastRotation.IsZero() {
		due(a.ageDue(st, t, name))
	}
	return next
}

// sessionRecheck is the shortest wait before a pass looks again for the
// end of a session that is still open.
const sessionRecheck = time.Minute

// inUse tells whether a session that began after the last rotation is
// still open.
func inUse(st *State, ss []Session) bool {
	if st.LastRotation.IsZero() {
		return false
	}
	for _, s := range ss {
		if s.Login.After(st.LastRotation) && s.Logout.IsZero() {
			return true
		}
	}
	return false
}

// earliest returns the earlier of two times, a zero one standing for none.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// expire applies enable-until (both modes): past it, the password is
// locked and the status is expired; done is true then. Before it (or
// without the tag) it only clears the record, and the caller brings the
// password back.
func (a *Agent) expire(ctx context.Context, st *State, res Result, t target) (Result, bool) {
	until := t.set.EnableUntil
	if until.IsZero() || a.Clock.Now().Before(until) {
		if st.Expired {
			a.Log.Info("access re-enabled", "user", t.set.User, "until", until)
			st.Expired = false
		}
		return res, false
	}
	if t.exists && !t.acct.Locked {
		if err := a.Accounts.Lock(ctx, t.set.User); err != nil {
			return a.fail(res, err), true
		}
		a.Log.Info("access expired: password locked", "user", t.set.User, "enable_until", until.UTC().Format(time.RFC3339))
		res.Changed = true
	}
	st.Expired = true
	res.Status = StatusExpired
	return res, true
}
