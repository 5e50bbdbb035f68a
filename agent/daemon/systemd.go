package daemon

import (
	"fmt"

	sdnotify "github.com/coreos/go-systemd/v22/daemon"
)

// Systemd is a Notifier over sd_notify(3). It does nothing when
// NOTIFY_SOCKET is unset (not started by systemd, or Type= is not notify).
type Systemd struct{}

// Notify sends state to $NOTIFY_SOCKET.
func (Systemd) Notify(state string) error {
	if _, err := sdnotify.SdNotify(false, state); err != nil {
		return fmt.Errorf("notifying systemd: %w", err)
	}
	return nil
}
