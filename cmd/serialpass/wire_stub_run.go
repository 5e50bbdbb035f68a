//go:build !wired

// TEMPORARY stub written by the run/service helper so cmd/serialpass builds
// before the lead's wire.go lands. Delete this file when wire.go defines
// buildAgent (the build tag keeps it out of `go build -tags wired`).

package main

import (
	"context"
	"errors"
	"io"

	"github.com/serialpass/serialpass/agent"
)

func buildAgent(ctx context.Context, o *commonOptions, stderr io.Writer) (*agent.Agent, agent.Config, error) {
	return nil, agent.Config{}, errors.New("not wired yet (wire_stub_run.go)")
}
