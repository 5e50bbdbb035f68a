package agent_test

import (
	"testing"

	"github.com/serialpass/serialpass/agent"
)

func TestSecretName(t *testing.T) {
	cfg := agent.DefaultConfig()
	tests := []struct {
		name string
		set  agent.Settings
		id   string
		want string
	}{
		{"pull keeps the tag", agent.Settings{Mode: agent.ModePull, Secret: "a/{instance-id}"}, "i-1", "a/{instance-id}"},
		{"rotate, template", agent.Settings{Mode: agent.ModeRotate}, "i-1", "serialpass/i-1"},
		{"rotate, tag", agent.Settings{Mode: agent.ModeRotate, Secret: "x/{instance-id}/y"}, "i-1", "x/i-1/y"},
		{"rotate, plain tag", agent.Settings{Mode: agent.ModeRotate, Secret: "mine"}, "i-1", "mine"},
		{"rotate, id unknown", agent.Settings{Mode: agent.ModeRotate}, "", "serialpass/{instance-id}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := agent.SecretName(tt.set, cfg, tt.id); got != tt.want {
				t.Errorf("SecretName = %q, want %q", got, tt.want)
			}
		})
	}
}
