package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Status values reported in the status tag.
const (
	StatusReady    = "ready"
	StatusError    = "error"
	StatusDisabled = "disabled"
	// StatusRotating: a rotation is open (rotate mode).
	StatusRotating = "rotating"
	// StatusExpired: enable-until has passed; the password is locked.
	StatusExpired = "expired"
)

// MaxReasonLen bounds the reason tag, in characters.
const MaxReasonLen = 256

// Agent holds the seams one pass works over. It has no hidden state: all
// that survives a pass is in State.
type Agent struct {
	Config   Config
	Identity Identity
	Tags     TagSource
	Secrets  SecretStore
	Accounts AccountManager
	Reporter StatusReporter
	State    StateStore
	Clock    Clock
	Log      *slog.Logger

	// Rotate mode only (rotate.go): the store's write side, a check of
	// the local hash, and the user's login sessions (nil: no post-use
	// rotation).
	Admin    SecretAdmin
	Verifier Verifier
	Sessions SessionSource

	// Console makes the user's serial-console login work and shows each
	// new outcome there (nil: leave the console alone).
	Console ConsoleSetup
}

// Result is the outcome of one pass.
type Result struct {
	Status    string
	VersionID string
	// Reason is a one-line, secret-free explanation when Status is error.
	Reason string
	User   string
	Secret string
	// Changed is true when the pass changed the local account.
	Changed bool
	// Reported is true when the pass wrote the status tags.
	Reported bool
	// Err is set when the pass failed, reporting included.
	Err error
	// Mode is the tag's mode (ModePull or ModeRotate) of an enabled pass.
	Mode string
	// Rotated is true when the pass completed a rotation.
	Rotated bool
	// LastLogin is the user's latest login (rotate mode), reported.
	LastLogin time.Time
	// Unreported is true when the pass did all its work but its report
	// did not reach the tags: RetryReport sends it without a new pass.
	Unreported bool
	// NextPass is when a pass next needs to run to act on time: the
	// enable-until time, and in rotate mode the end of the post-use grace
	// delay, the max-age due date or the end of the 10-minute wait of a
	// deferred rotation. Zero: nothing is due at a known time.
	NextPass time.Time
	// RotateAt is when a requested rotation (serialpass rotate, a
	// re-enable) waiting for the 10-minute rule may run (rotate mode).
	RotateAt time.Time
}

// OK reports whether the pass should exit zero.
func (r Result) OK() bool { return r.Err == nil }

// Pass runs one reconcile pass: read tags, read the secret, bring the local
// account in line, remember what was applied, and report when the reported
// status changes.
func (a *Agent) Pass(ctx context.Context) Result {
	tags, tagErr := a.Tags.Tags(ctx, a.Config.TagPrefix)
	if tagErr == nil && a.untouched(tags) {
		// Never managed, never reported: touch nothing at all, not even
		// the state directory or its lock.
		return Result{Status: StatusDisabled}
	}
	unlock, err := a.lock(ctx)
	if err != nil {
		return a.fail(Result{}, err)
	}
	defer unlock()
	st := a.loadState()
	res := a.setupConsole(ctx, a.removeAging(ctx, a.reconcile(ctx, &st, tags, tagErr)))
	if res.Status == StatusDisabled && st.Reported.Status == "" {
		return res
	}
	now := a.Clock.Now().UTC().Truncate(time.Second)
	rep := Report{Status: res.Status, VersionID: res.VersionID, Reason: res.Reason, Time: now, LastLogin: res.LastLogin}
	st.LastPass = rep
	if !rep.same(st.Reported) {
		if err := a.Reporter.Report(ctx, a.Identity.InstanceID, a.ReportTags(rep)); err != nil {
			// The pass's own work is done and recorded; only the report
			// is missing, and RetryReport can send it alone.
			res.Unreported = res.Err == nil
			res.Err = errors.Join(res.Err, fmt.Errorf("reporting status: %w", err))
		} else {
			st.Reported = rep
			res.Reported = true
		}
	}
	// The console hears of every new outcome, also one the tags could
	// not carry.
	a.showBanner(ctx, &st, res, rep)
	if err := a.State.Save(st); err != nil {
		res.Err = errors.Join(res.Err, err)
	}
	return res
}

// untouched reports a disabled instance that this agent never reported on
// (no state): such a pass must leave no trace.
func (a *Agent) untouched(tags map[string]string) bool {
	set, _ := ParseTags(tags, a.Config)
	if set.Enabled() {
		return false
	}
	st, err := a.State.Load()
	return err == nil && st.Reported.Status == ""
}

// reconcile decides and applies; it never reports.
func (a *Agent) reconcile(ctx context.Context, st *State, tags map[string]string, tagErr error) Result {
	if tagErr != nil {
		return a.fail(Result{}, fmt.Errorf("reading instance tags: %w", tagErr))
	}
	set, err := ParseTags(tags, a.Config)
	for _, k := range set.Unknown {
		a.Log.Warn("ignoring unknown tag", "key", k)
	}
	if !set.Enabled() {
		return Result{Status: StatusDisabled}
	}
	// Until a new version is applied, the version reported is the one
	// live locally (none on a first pass).
	res := Result{User: set.User, Secret: set.Secret, Mode: set.Mode}
	if until := set.EnableUntil; a.Clock.Now().Before(until) {
		res.NextPass = until // the password is locked then
	}
	if st.Applied.User == set.User {
		res.VersionID = st.Applied.VersionID
	}
	if err != nil {
		return a.fail(res, err)
	}
	sys, err := a.Accounts.System(ctx)
	if err != nil {
		return a.fail(res, err)
	}
	acct, exists, err := a.Accounts.Lookup(ctx, set.User)
	if err != nil {
		return a.fail(res, err)
	}
	if err := CheckUser(set.User, acct, exists, a.Config, sys); err != nil {
		return a.fail(res, err)
	}
	groups, err := ResolveGroups(set, a.Config, sys)
	if err != nil {
		return a.fail(res, err)
	}
	shell, err := a.pickShell(sys)
	if err != nil {
		return a.fail(res, err)
	}
	tg := target{set: set, acct: acct, exists: exists, groups: groups, shell: shell}
	if set.Mode == ModeRotate {
		return a.reconcileRotate(ctx, st, res, tg)
	}
	if r, done := a.expire(ctx, st, res, tg); done {
		return r
	}
	sv, err := a.Secrets.GetSecret(ctx, set.Secret, StageCurrent)
	if err != nil {
		return a.fail(res, secretError(set.Secret, err))
	}
	pw, err := ParseSecret(sv.Value, set.User)
	if err == nil {
		err = a.checkVerifiable(pw)
	}
	if err != nil {
		return a.fail(res, fmt.Errorf("secret %q version %s: %w", set.Secret, shortID(sv.VersionID), err))
	}
	missing := missingGroups(acct.Groups, groups)
	if exists && !acct.Locked && len(missing) == 0 && st.Applied == (Applied{
		User: set.User, Secret: set.Secret, VersionID: sv.VersionID,
		Fingerprint: acct.Fingerprint, Time: st.Applied.Time,
	}) {
		res.Status = StatusReady
		return res
	}
	res.VersionID = sv.VersionID
	if err := a.apply(ctx, set.User, exists, AccountSpec{Name: set.User, Groups: groups, Shell: shell}, missing, pw); err != nil {
		return a.fail(res, err, pw)
	}
	res.Changed = true
	after, ok, err := a.Accounts.Lookup(ctx, set.User)
	switch {
	case err != nil:
		return a.fail(res, err, pw)
	case !ok || after.Locked:
		return a.fail(res, fmt.Errorf("user %q is still locked after setting the password", set.User))
	}
	if a.Verifier != nil {
		if err := a.Verifier.Verify(ctx, set.User, pw); err != nil {
			return a.fail(res, fmt.Errorf("checking the password just set: %w", err), pw)
		}
	}
	st.Applied = Applied{User: set.User, Secret: set.Secret, VersionID: sv.VersionID,
		Fingerprint: after.Fingerprint, Time: a.Clock.Now().UTC()}
	a.Log.Info("password applied", "user", set.User, "secret", set.Secret, "version", sv.VersionID, "created", !exists)
	res.Status = StatusReady
	return res
}

// apply creates the account if needed, sets the password and adds missing
// groups. An account this call created is removed again if the password
// cannot be set, so a failure leaves the account database as it was.
func (a *Agent) apply(ctx context.Context, user string, exists bool, spec AccountSpec, missing []string, pw Password) error {
	if err := a.checkVerifiable(pw); err != nil {
		return fmt.Errorf("setting the password of user %q: %w", user, err)
	}
	if !exists {
		if err := a.Accounts.Create(ctx, spec); err != nil {
			return err
		}
	}
	if err := a.Accounts.SetPassword(ctx, user, pw); err != nil {
		if !exists {
			if derr := a.Accounts.Delete(ctx, user); derr != nil {
				return errors.Join(err, fmt.Errorf("rolling back: %w", derr))
			}
		}
		return err
	}
	if exists && len(missing) > 0 {
		return a.Accounts.AddGroups(ctx, user, missing)
	}
	return nil
}

func (a *Agent) pickShell(sys System) (string, error) {
	if a.Config.Shell != "" {
		if !slices.Contains(sys.Shells, a.Config.Shell) {
			return "", fmt.Errorf("shell %q from the config does not exist in the root", a.Config.Shell)
		}
		return a.Config.Shell, nil
	}
	for _, s := range []string{"/bin/bash", "/usr/bin/bash", "/bin/sh", "/usr/bin/sh"} {
		if slices.Contains(sys.Shells, s) {
			return s, nil
		}
	}
	if len(sys.Shells) > 0 {
		return sys.Shells[0], nil
	}
	return "", errors.New("no login shell found in the root")
}

// shortID is the first 8 characters of a VersionId, enough to tell
// versions apart in a reason or a banner.
func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

func missingGroups(have, want []string) []string {
	var out []string
	for _, g := range want {
		if !slices.Contains(have, g) {
			out = append(out, g)
		}
	}
	return out
}

// secretError turns a store error into a reason an operator can act on.
func secretError(id string, err error) error {
	switch {
	case errors.Is(err, ErrSecretNotFound):
		return fmt.Errorf("secret %q not found: %w", id, err)
	case errors.Is(err, ErrAccessDenied):
		return fmt.Errorf("not allowed to read secret %q (secretsmanager:GetSecretValue): %w", id, err)
	default:
		return fmt.Errorf("reading secret %q: %w", id, err)
	}
}

// fail marks res as an error with a one-line reason free of the secrets.
func (a *Agent) fail(res Result, err error, secrets ...Password) Result {
	res.Status = StatusError
	res.Reason = Reason(err, secrets...)
	res.Err = &passError{reason: res.Reason, cause: err}
	return res
}

// passError shows the scrubbed reason and keeps the cause for errors.Is, so
// callers can tell throttling or an unreachable service from bad input.
type passError struct {
	reason string
	cause  error
}

func (e *passError) Error() string { return e.reason }
func (e *passError) Unwrap() error { return e.cause }

// requestID matches the per-request identifiers AWS errors carry; they
// would make every retry of the same failure look new.
var requestID = regexp.MustCompile(`(?i),? *request ?id: *[0-9a-z-]+`)

// Reason renders err as a single line of at most MaxReasonLen characters,
// with any secret material and AWS request ids removed, so the same failure
// always gives the same reason (and is reported once).
func Reason(err error, secrets ...Password) string {
	s := scrub(err.Error(), secrets...)
	s = requestID.ReplaceAllString(s, "")
	s = strings.ReplaceAll(s, "\n", "; ") // errors.Join's separator
	s = strings.Join(strings.Fields(s), " ")
	return clip(s, MaxReasonLen)
}
