package console

import "github.com/serialpass/serialpass/agent/console/consolecfg"

// Options are the console settings (console_only, consoles, fix_console,
// enable_getty, console_device); see consolecfg.
type Options = consolecfg.Options

// DefaultDevice is the serial port the EC2 Serial Console is attached to.
const DefaultDevice = consolecfg.DefaultDevice
