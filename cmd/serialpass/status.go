package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/kardianos/service"

	"github.com/serialpass/serialpass/agent"
)

const statusSummary = `Show the last pass from the state file: its outcome, the secret version
applied, and when; a rotation left open (rotate mode), which the next pass
finishes; and whether the serialpass service runs (running, stopped, not
installed, or unknown when there is no systemd or --root is not /).
Exit 1 when the last pass failed.`

// Service states as status shows them.
const (
	serviceRunning      = "running"
	serviceStopped      = "stopped"
	serviceNotInstalled = "not installed"
	serviceUnknown      = "unknown"
)

// statusView is what `status --json` prints: the state file's content and
// the service's state. It never holds a password (nor does the state).
type statusView struct {
	agent.State
	Service string `json:"service"`
}

func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := statusCommand{serviceState: func(root string) string { return serviceStateAt(root, findService) }}
	return cmd.run(ctx, args, stdout, stderr)
}

// statusCommand is `serialpass status`; serviceState tells how the service
// stands for a root (tests stand in for systemd here).
type statusCommand struct {
	serviceState func(root string) string
}

func (c statusCommand) run(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("status", statusSummary, stderr)
	opts := addCommonFlags(fs)
	asJSON := fs.Bool("json", false, "print the state file's content and the service's state as JSON")
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	st, err := agent.NewFileState(opts.root).Load()
	if err != nil {
		fmt.Fprintf(stderr, "serialpass status: %v\n", err)
		return 1
	}
	view := statusView{State: st, Service: c.serviceState(opts.root)}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(view); err != nil {
			fmt.Fprintf(stderr, "serialpass status: %v\n", err)
			return 1
		}
	} else {
		writeStatus(stdout, view)
	}
	if st.LastPass.Status == agent.StatusError {
		return 1
	}
	return 0
}

func writeStatus(w io.Writer, v statusView) {
	st := v.State
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, val string) {
		if val != "" {
			fmt.Fprintf(tw, "%s\t%s\n", k, val)
		}
	}
	if st.LastPass.Status == "" && st.Applied.User == "" && st.Rotation == nil {
		row("last pass:", "no pass recorded yet (or this instance was never managed)")
	} else {
		last := st.LastPass.Status + stamp(st.LastPass.Time)
		if r := st.Rotation; r != nil && last != "" && st.LastPass.Time.Before(r.Started) {
			last += " (before the rotation left open below)"
		}
		row("last pass:", last)
		row("version:", st.LastPass.VersionID)
		row("reason:", st.LastPass.Reason)
		row("rotation:", rotationLine(st.Rotation))
		row("reported:", st.Reported.Status+stamp(st.Reported.Time))
		if a := st.Applied; a.User != "" {
			row("applied:", fmt.Sprintf("user %s, secret %s, version %s%s", a.User, a.Secret, a.VersionID, stamp(a.Time)))
		}
	}
	row("service:", v.Service)
	tw.Flush()
}

// rotationLine describes an open rotation (the request token is no
// secret: it becomes the new VersionId), or "" when none is open.
func rotationLine(r *agent.Rotation) string {
	if r == nil {
		return ""
	}
	line := fmt.Sprintf("open (phase %s) since %s: secret %s, user %s, token %s",
		r.Phase, r.Started.UTC().Format(time.RFC3339), r.Secret, r.User, r.Token)
	if r.From != "" {
		line += ", from version " + r.From
	}
	return line + "; the next pass finishes it"
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return " at " + t.UTC().Format(time.RFC3339)
}

// serviceStatuser is the part of a kardianos service status needs.
type serviceStatuser interface {
	Status() (service.Status, error)
}

// findService returns the serialpass service as service.go wires it.
func findService() (serviceStatuser, error) {
	return newService(newProgram(func(context.Context) error { return nil }))
}

// serviceStateAt tells whether the serialpass service, as find returns
// it, runs on this system. Under a --root other than / the service is not
// the root's: unknown.
func serviceStateAt(root string, find func() (serviceStatuser, error)) string {
	if filepath.Clean(root) != "/" {
		return serviceUnknown
	}
	svc, err := find()
	if err != nil {
		return serviceUnknown // no systemd (a container, a build host)
	}
	return serviceStateOf(svc)
}

// serviceStateOf reads the service's state through kardianos: running,
// stopped, not installed, or unknown when it cannot tell (a failed unit,
// systemctl missing).
func serviceStateOf(svc serviceStatuser) string {
	st, err := svc.Status()
	switch {
	case errors.Is(err, service.ErrNotInstalled):
		return serviceNotInstalled
	case err != nil:
		return serviceUnknown
	case st == service.StatusRunning:
		return serviceRunning
	case st == service.StatusStopped:
		return serviceStopped
	}
	return serviceUnknown
}
