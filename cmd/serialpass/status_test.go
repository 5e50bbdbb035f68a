package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

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
	tests := []struct {
		name     string
		state    *agent.State
		args     []string
		wantCode int
		want     []string
	}{
		{"no state", nil, nil, 0, []string{"no pass recorded"}},
		{"ready", &ready, nil, 0, []string{"last pass:  ready at 2026-12-03T11:00:00Z", "version:    v-1",
			"applied:    user ec2-serial, secret prod/serial, version v-1 at 2026-12-03T10:00:00Z"}},
		{"error", &failed, nil, 1, []string{"last pass:  error at", `reason:     secret "x" not found`}},
		{"json", &ready, []string{"--json"}, 0, []string{`"last_pass": {`, `"version_id": "v-1"`}},
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
			if tt.name == "json" {
				var back agent.State
				if err := json.Unmarshal(out.Bytes(), &back); err != nil || back.Applied.VersionID != "v-1" {
					t.Errorf("json round trip: %v %+v", err, back)
				}
			}
		})
	}
}
