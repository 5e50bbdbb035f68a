package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/serialpass/serialpass/agent"
	"github.com/serialpass/serialpass/agent/daemon"
)

func runOnce(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("once", "Run one reconcile pass and exit: 0 when the user is ready or the instance is\nnot managed (no serialpass:secret tag), 1 with the reason on stderr otherwise.\nA report that CreateTags throttles is sent again, alone, with backoff, for up\nto boot_timeout. Warnings are printed after a success; -v shows the whole\nlog as it happens.", stderr)
	opts := addCommonFlags(fs)
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	// A failure is one line on stderr: its reason. Warnings (an unknown
	// tag, say) go to stderr after a success, and with -v as they come.
	opts.logLevel = slog.LevelWarn
	var warnings bytes.Buffer
	logTo := io.Writer(&warnings)
	if opts.verbose {
		logTo = stderr
	}
	started := time.Now()
	a, cfg, err := buildAgent(ctx, opts, logTo)
	if err != nil {
		fmt.Fprintf(stderr, "serialpass: %s\n", agent.Reason(err))
		return 1
	}
	res := a.Pass(ctx)
	res = retryThrottledReport(ctx, a, res, started.Add(cfg.BootTimeout.D()), cfg.Interval.D())
	if !res.OK() {
		fmt.Fprintf(stderr, "serialpass: %s\n", agent.Reason(res.Err))
		return 1
	}
	_, _ = warnings.WriteTo(stderr)
	fmt.Fprintln(stdout, summary(res))
	return 0
}

// retryThrottledReport sends a report that CreateTags throttled again,
// alone, after daemon.ThrottleDelay, until deadline (boot_timeout from
// the start): a fleet booting together from user-data all reports in the
// end, without a pass per retry. Other outcomes are returned as they are.
func retryThrottledReport(ctx context.Context, a *agent.Agent, res agent.Result, deadline time.Time, ceil time.Duration) agent.Result {
	for n := 1; res.Unreported && errors.Is(res.Err, agent.ErrThrottled); n++ {
		d := daemon.ThrottleDelay(n, ceil, rand.Float64())
		if time.Now().Add(d).After(deadline) {
			return res
		}
		if err := a.Clock.Sleep(ctx, d); err != nil {
			return res
		}
		r := a.RetryReport(ctx)
		// The pass's outcome stands (what it changed, what it set); only
		// the report's fate is new.
		res.Err, res.Unreported, res.Reported = r.Err, r.Unreported, r.Reported
	}
	return res
}

// summary is the one line `once` prints on success.
func summary(res agent.Result) string {
	switch res.Status {
	case agent.StatusDisabled:
		return "serialpass: disabled (no secret tag): nothing to do"
	case agent.StatusReady:
		change := "unchanged"
		if res.Changed {
			change = "password set"
		}
		return fmt.Sprintf("serialpass: ready user=%s secret=%s version=%s (%s)", res.User, res.Secret, res.VersionID, change)
	}
	return "serialpass: " + res.Status
}
