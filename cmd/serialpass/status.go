package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/serialpass/serialpass/agent"
)

func runStatus(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("status", "Show the last pass from the state file: its outcome, the secret version\napplied, and when. Exit 1 when the last pass failed.", stderr)
	opts := addCommonFlags(fs)
	asJSON := fs.Bool("json", false, "print the state file's content as JSON")
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	st, err := agent.NewFileState(opts.root).Load()
	if err != nil {
		fmt.Fprintf(stderr, "serialpass status: %v\n", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(st); err != nil {
			fmt.Fprintf(stderr, "serialpass status: %v\n", err)
			return 1
		}
	} else {
		writeStatus(stdout, st)
	}
	if st.LastPass.Status == agent.StatusError {
		return 1
	}
	return 0
}

func writeStatus(w io.Writer, st agent.State) {
	if st.LastPass.Status == "" && st.Applied.User == "" {
		fmt.Fprintln(w, "no pass recorded yet (or this instance was never managed)")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s\t%s\n", k, v)
		}
	}
	row("last pass:", st.LastPass.Status+stamp(st.LastPass.Time))
	row("version:", st.LastPass.VersionID)
	row("reason:", st.LastPass.Reason)
	row("reported:", st.Reported.Status+stamp(st.Reported.Time))
	if a := st.Applied; a.User != "" {
		row("applied:", fmt.Sprintf("user %s, secret %s, version %s%s", a.User, a.Secret, a.VersionID, stamp(a.Time)))
	}
	tw.Flush()
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return " at " + t.UTC().Format(time.RFC3339)
}
