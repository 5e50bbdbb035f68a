package agent

import (
	"context"
	"fmt"
	"time"
)

// Reporting the outcome of a pass to the instance's tags, in the pass,
// in the middle of a rotation, or on its own after a failed report.

// lock takes the state lock when the store has one: `rotate`, `once` and
// the daemon never interleave the steps of a rotation or of a report.
func (a *Agent) lock(ctx context.Context) (unlock func(), err error) {
	l, ok := a.State.(Locker)
	if !ok {
		return func() {}, nil
	}
	return l.Lock(ctx)
}

// loadState loads the state; an unreadable one is ignored, which costs one
// redundant chpasswd and report, nothing more.
func (a *Agent) loadState() State {
	st, err := a.State.Load()
	if err != nil {
		a.Log.Warn("ignoring unreadable state", "err", err)
		return State{}
	}
	return st
}

// RetryReport sends the outcome of the last pass when its report did not
// reach the tags (Result.Unreported), without running the pass again: no
// Secrets Manager call, nothing local changed. It is a no-op when the
// tags already carry that outcome. Throttled fleets retry this way, so a
// failed report costs one CreateTags per retry and nothing more.
func (a *Agent) RetryReport(ctx context.Context) Result {
	unlock, err := a.lock(ctx)
	if err != nil {
		return a.fail(Result{}, err)
	}
	defer unlock()
	st := a.loadState()
	rep := st.LastPass
	res := Result{Status: rep.Status, VersionID: rep.VersionID, Reason: rep.Reason, LastLogin: rep.LastLogin,
		User: st.Applied.User, Secret: st.Applied.Secret}
	if rep.Status == "" || rep.same(st.Reported) {
		return res
	}
	rep.Time = a.Clock.Now().UTC().Truncate(time.Second)
	if err := a.Reporter.Report(ctx, a.Identity.InstanceID, a.ReportTags(rep)); err != nil {
		res.Unreported = true
		res.Err = fmt.Errorf("reporting status: %w", err)
		return res
	}
	st.Reported = rep
	res.Reported = true
	if err := a.State.Save(st); err != nil {
		res.Err = fmt.Errorf("recording the reported status: %w", err)
	}
	return res
}

// announce reports an intermediate status (rotating) in the middle of a
// pass, before the step it warns of, and records it as reported. A failed
// report is an error: the step must not run unannounced.
func (a *Agent) announce(ctx context.Context, st *State, rep Report) error {
	if rep.same(st.Reported) {
		return nil
	}
	rep.Time = a.Clock.Now().UTC().Truncate(time.Second)
	if err := a.Reporter.Report(ctx, a.Identity.InstanceID, a.ReportTags(rep)); err != nil {
		return fmt.Errorf("reporting status %s: %w", rep.Status, err)
	}
	st.Reported = rep
	if err := a.State.Save(*st); err != nil {
		return fmt.Errorf("recording the reported status: %w", err)
	}
	return nil
}

// ReportTags renders a report as instance tags.
func (a *Agent) ReportTags(r Report) map[string]string {
	p := a.Config.TagPrefix + TagStatus
	tags := map[string]string{
		p:              r.Status,
		p + ":version": r.VersionID,
		p + ":time":    r.Time.UTC().Format(time.RFC3339),
		p + ":reason":  r.Reason,
	}
	if !r.LastLogin.IsZero() {
		tags[p+":last-login"] = r.LastLogin.UTC().Format(time.RFC3339)
	}
	return tags
}
