package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kardianos/service"

	"github.com/serialpass/serialpass/agent"
)

func TestStatus(t *testing.T) {
	at := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	ready := agent.State{
		Applied:  agent.Applied{User: "ec2-serial", Secret: "prod/serial", VersionID: "v-1", Fingerprint: "abc", Time: at},
		Reported: agent.Report{Status: agent.StatusReady, VersionID: "v-1", Time: at},
		LastPass: agent.Report{Status: agent.StatusReady, VersionID: "v-1", Time: at.Add(time.Hour)},
	}
	failed := ready
	failed.LastPass = agent.Report{Status: agent.StatusError, Reason: "secret \"x\" not found", Time: at}
	// A crash mid-rotation: the last completed pass said ready, the state
	// holds the open rotation and the reported rotating.
	crashed := ready
	crashed.Reported = agent.Report{Status: agent.StatusRotating, VersionID: "v-1", Time: at.Add(2 * time.Hour)}
	crashed.Rotation = &agent.Rotation{Secret: "serialpass/i-0abc", User: "ec2-serial", Token: "7f3c2a10-aaaa-4bbb-8ccc-0123456789ab",
		From: "v-1", Phase: agent.PhasePending, Started: at.Add(2 * time.Hour)}
	// A crash during the very first pass of rotate mode: only the rotation.
	firstCreate := agent.State{Rotation: &agent.Rotation{Secret: "serialpass/i-0abc", User: "ec2-serial",
		Token: "tok-create", Phase: agent.PhaseCreate, Started: at}}
	tests := []struct {
		name     string
		state    *agent.State
		args     []string
		wantCode int
		want     []string
		notWant  []string
	}{
		{"no state", nil, nil, 0, []string{"last pass:  no pass recorded", "service:    unknown"}, []string{"rotation:"}},
		{"ready", &ready, nil, 0, []string{"last pass:  ready at 2026-12-03T11:00:00Z", "version:    v-1",
			"applied:    user ec2-serial, secret prod/serial, version v-1 at 2026-12-03T10:00:00Z", "service:    unknown"}, []string{"rotation:"}},
		{"error", &failed, nil, 1, []string{"last pass:  error at", `reason:     secret "x" not found`}, nil},
		{"open rotation", &crashed, nil, 0, []string{
			"last pass:  ready at 2026-12-03T11:00:00Z (before the rotation left open below)",
			"rotation:   open (phase pending) since 2026-12-03T12:00:00Z: secret serialpass/i-0abc, user ec2-serial, token 7f3c2a10-aaaa-4bbb-8ccc-0123456789ab, from version v-1; the next pass finishes it",
			"reported:   rotating at 2026-12-03T12:00:00Z"}, nil},
		{"open rotation on the first pass", &firstCreate, nil, 0, []string{"rotation:  open (phase create) since 2026-12-03T10:00:00Z"},
			[]string{"no pass recorded"}},
		{"json", &ready, []string{"--json"}, 0, []string{`"last_pass": {`, `"version_id": "v-1"`, `"service": "unknown"`}, []string{`"rotation"`}},
		{"json, open rotation", &crashed, []string{"--json"}, 0, []string{`"rotation": {`, `"phase": "pending"`,
			`"token": "7f3c2a10-aaaa-4bbb-8ccc-0123456789ab"`, `"started": "2026-12-03T12:00:00Z"`, `"service": "unknown"`}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			if tt.state != nil {
				if err := agent.NewFileState(root).Save(*tt.state); err != nil {
					t.Fatal(err)
				}
			}
			var out, errOut bytes.Buffer
			code := dispatch(context.Background(), append([]string{"status", "--root", root}, tt.args...), &out, &errOut)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d; stderr %s", code, tt.wantCode, errOut.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(out.String(), w) {
					t.Errorf("output has %q:\n%s", w, out.String())
				}
			}
			if slices.Contains(tt.args, "--json") {
				var back agent.State
				if err := json.Unmarshal(out.Bytes(), &back); err != nil || back.Applied.VersionID != tt.state.Applied.VersionID ||
					(tt.state.Rotation != nil && (back.Rotation == nil || *back.Rotation != *tt.state.Rotation)) {
					t.Errorf("json round trip: %v %+v", err, back)
				}
			}
		})
	}
}

// fakeService answers Status as systemd would, through kardianos.
type fakeService struct {
	st  service.Status
	err error
}

func (f fakeService) Status() (service.Status, error) { return f.st, f.err }

func TestServiceState(t *testing.T) {
	tests := []struct {
		name    string
		root    string
		svc     serviceStatuser
		findErr error
		want    string
	}{
		{"running", "/", fakeService{st: service.StatusRunning}, nil, "running"},
		{"stopped", "/", fakeService{st: service.StatusStopped}, nil, "stopped"},
		{"not installed", "/", fakeService{err: service.ErrNotInstalled}, nil, "not installed"},
		{"failed unit", "/", fakeService{err: errors.New("service in failed state")}, nil, "unknown"},
		{"status unknown", "/", fakeService{st: service.StatusUnknown}, nil, "unknown"},
		{"no systemd", "/", nil, errors.New("service control needs systemd, this system uses unix-systemv"), "unknown"},
		{"other root", "/mnt/image", fakeService{st: service.StatusRunning}, nil, "unknown"},
		{"root spelt //", "//", fakeService{st: service.StatusRunning}, nil, "running"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			find := func() (serviceStatuser, error) { return tt.svc, tt.findErr }
			if got := serviceStateAt(tt.root, find); got != tt.want {
				t.Errorf("serviceStateAt(%q) = %q, want %q", tt.root, got, tt.want)
			}
		})
	}
	t.Run("printed", func(t *testing.T) {
		root := t.TempDir()
		cmd := statusCommand{serviceState: func(r string) string {
			if r != root {
				t.Errorf("service state asked for root %q, want %q", r, root)
			}
			return serviceRunning
		}}
		for _, args := range [][]string{nil, {"--json"}} {
			var out, errOut bytes.Buffer
			cmd.run(context.Background(), append([]string{"--root", root}, args...), &out, &errOut)
			if !strings.Contains(out.String(), "service:    running") && !strings.Contains(out.String(), `"service": "running"`) {
				t.Errorf("status %v does not show the service running:\n%s%s", args, out.String(), errOut.String())
			}
		}
	})
}
