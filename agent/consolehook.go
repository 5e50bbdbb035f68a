package agent

import (
	"context"
	"time"
)

// ConsoleSetup makes the managed user's login work on the serial console
// (console-only login, kernel console, serial getty) and shows each new
// outcome there (agent/console in production).
type ConsoleSetup interface {
	// Apply brings the console in line for user. Warnings do not keep the
	// console from working; an error does and becomes the status reason.
	Apply(ctx context.Context, user string) (warnings []string, err error)
	// Banner writes one secret-free line about res to the console.
	Banner(ctx context.Context, res Result, at time.Time) error
}

// setupConsole runs after a pass that left the user ready: a console that
// cannot work turns the status into an error.
func (a *Agent) setupConsole(ctx context.Context, res Result) Result {
	if a.Console == nil || res.Status != StatusReady {
		return res
	}
	warnings, err := a.Console.Apply(ctx, res.User)
	for _, w := range warnings {
		a.Log.Warn("console", "warning", w)
	}
	if err != nil {
		return a.fail(res, err)
	}
	return res
}

// showBanner tells the console about an outcome that differs from the last
// one shown there, whether or not the tags could carry it. It never fails
// the pass.
func (a *Agent) showBanner(ctx context.Context, st *State, res Result, rep Report) {
	if a.Console == nil || rep.same(st.Shown) {
		return
	}
	if err := a.Console.Banner(ctx, res, rep.Time); err != nil {
		a.Log.Warn("writing the console banner", "err", err)
		return
	}
	st.Shown = rep
}
