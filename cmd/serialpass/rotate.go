package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/serialpass/serialpass/agent"
)

const rotateSummary = `Rotate the password now (rotate mode): record the request in the state file,
then run one pass, which rotates unless the secret was rotated less than 10
minutes ago (then the request waits and the daemon honours it later). Passes
of this command, once and the daemon never overlap: they share a lock.`

func runRotate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("rotate", rotateSummary, stderr)
	opts := addCommonFlags(fs)
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	opts.logLevel = slog.LevelWarn
	a, _, err := buildAgent(ctx, opts, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "serialpass: %s\n", agent.Reason(err))
		return 1
	}
	fst := agent.NewFileState(opts.root)
	if err := requestRotation(ctx, fst, a.Clock); err != nil {
		fmt.Fprintf(stderr, "serialpass: %s\n", agent.Reason(err))
		return 1
	}
	res := a.Pass(ctx)
	if !res.OK() {
		fmt.Fprintf(stderr, "serialpass: %s\n", agent.Reason(res.Err))
		return 1
	}
	if res.Mode != agent.ModeRotate {
		_ = requestRotation(ctx, fst, nil) // withdraw it
		fmt.Fprintf(stderr, "serialpass: the instance is not in rotate mode (tag %s%s=%s): nothing rotated\n", a.Config.TagPrefix, agent.TagMode, agent.ModeRotate)
		return 1
	}
	if !res.Rotated && !res.RotateAt.IsZero() {
		fmt.Fprintf(stdout, "serialpass: rotation requested; it runs at %s at the earliest (one rotation per 10 minutes)\n",
			res.RotateAt.UTC().Format(time.RFC3339))
		return 0
	}
	fmt.Fprintln(stdout, summary(res))
	return 0
}

// requestRotation records (clock set) or withdraws (nil) a request in the
// state file, under the state lock so no pass in flight overwrites it.
func requestRotation(ctx context.Context, fst agent.FileState, clock agent.Clock) error {
	unlock, err := fst.Lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	st, err := fst.Load()
	if err != nil {
		return err
	}
	if clock != nil {
		st.RotateRequested = clock.Now().UTC()
	} else {
		st.RotateRequested = time.Time{}
	}
	return fst.Save(st)
}
