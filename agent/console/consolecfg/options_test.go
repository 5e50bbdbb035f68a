package consolecfg

import (
	"bytes"
	"slices"
	"testing"

	"go.yaml.in/yaml/v3"
)

// config mimics agent.Config embedding Options inline.
type config struct {
	User    string `yaml:"user"`
	Options `yaml:",inline"`
}

func TestOptionsYAML(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		only    bool
		device  string
		wantErr bool
	}{
		{"defaults", "user: x\n", true, "ttyS0", false},
		{"all keys", "console_only: false\nconsoles: [tty1, hvc0]\nfix_console: true\nenable_getty: true\nconsole_device: ttyAMA0\n", false, "ttyAMA0", false},
		{"bad device", "console_device: ../x\n", true, "", true},
		{"unknown key", "console_onyl: false\n", true, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c config
			dec := yaml.NewDecoder(bytes.NewReader([]byte(tt.yaml)))
			dec.KnownFields(true)
			err := dec.Decode(&c)
			if err == nil {
				err = c.Options.Validate()
			}
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			if tt.wantErr {
				return
			}
			if c.OnlyConsole() != tt.only || c.Device() != tt.device {
				t.Errorf("only %v device %q", c.OnlyConsole(), c.Device())
			}
			if tt.name == "all keys" && (!c.FixConsole || !c.EnableGetty || !slices.Equal(c.Consoles, []string{"tty1", "hvc0"})) {
				t.Errorf("%+v", c.Options)
			}
		})
	}
}
