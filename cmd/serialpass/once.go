package main

import (
	"context"
	"fmt"
	"io"
)

func runOnce(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("once", "Run one reconcile pass and exit: 0 when the user is ready or the instance is\nnot managed (no serialpass:secret tag), non-zero with the reason otherwise.", stderr)
	opts := addCommonFlags(fs)
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	_ = opts
	fmt.Fprintln(stderr, "serialpass once: not wired yet")
	return 1
}
