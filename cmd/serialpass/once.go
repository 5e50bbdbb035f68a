package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/serialpass/serialpass/agent"
)

func runOnce(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("once", "Run one reconcile pass and exit: 0 when the user is ready or the instance is\nnot managed (no serialpass:secret tag), 1 with the reason on stderr otherwise.", stderr)
	opts := addCommonFlags(fs)
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	opts.logLevel = slog.LevelWarn // stderr holds the one-line reason, not chatter
	a, _, err := buildAgent(ctx, opts, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "serialpass: %s\n", agent.Reason(err))
		return 1
	}
	res := a.Pass(ctx)
	if !res.OK() {
		fmt.Fprintf(stderr, "serialpass: %s\n", agent.Reason(res.Err))
		return 1
	}
	fmt.Fprintln(stdout, summary(res))
	return 0
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
