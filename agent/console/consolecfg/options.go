// Package consolecfg holds the console settings of the AMI owner's config.
// It imports nothing of serialpass, so agent.Config can embed Options
// (`yaml:",inline"`) while package console, which imports agent, uses them.
package consolecfg

import (
	"fmt"
	"regexp"
)

// Options are the AMI owner's console settings. They are meant to be
// embedded in agent.Config with `yaml:",inline"`.
type Options struct {
	// ConsoleOnly restricts the managed user to the serial console (and
	// Consoles): pam_access on login, DenyUsers for sshd. Default true.
	ConsoleOnly *bool `yaml:"console_only,omitempty"`
	// Consoles are further local terminals (tty1, hvc0) the user may log in
	// on when ConsoleOnly is set.
	Consoles []string `yaml:"consoles,omitempty"`
	// FixConsole adds console=<device> to the GRUB defaults when the
	// kernel console is elsewhere; a reboot is still needed.
	FixConsole bool `yaml:"fix_console,omitempty"`
	// EnableGetty unmasks and enables serial-getty@<device> when needed.
	EnableGetty bool `yaml:"enable_getty,omitempty"`
	// ConsoleDevice is the serial port, without /dev/. Default ttyS0.
	ConsoleDevice string `yaml:"console_device,omitempty"`
}

// DefaultDevice is the serial port the EC2 Serial Console is attached to.
const DefaultDevice = "ttyS0"

// OnlyConsole reports ConsoleOnly with its default (true).
func (o Options) OnlyConsole() bool { return o.ConsoleOnly == nil || *o.ConsoleOnly }

// Device returns ConsoleDevice or DefaultDevice.
func (o Options) Device() string {
	if o.ConsoleDevice == "" {
		return DefaultDevice
	}
	return o.ConsoleDevice
}

var ttyName = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9]{0,31}$`)

// Validate checks the device names, which end up in access.conf and unit
// names.
func (o Options) Validate() error {
	if !ttyName.MatchString(o.Device()) {
		return fmt.Errorf("console_device %q is not a terminal name like ttyS0", o.ConsoleDevice)
	}
	for _, c := range o.Consoles {
		if !ttyName.MatchString(c) {
			return fmt.Errorf("consoles: %q is not a terminal name like tty1", c)
		}
	}
	return nil
}
