package console

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
)

// sshd files, relative to the root.
const (
	SSHDConfigPath = "etc/ssh/sshd_config"
	SSHDropInPath  = "etc/ssh/sshd_config.d/serialpass.conf"
)

func sshDropIn(user string) []byte {
	return []byte("# Managed by serialpass: the serial-console user has no SSH login.\n" +
		"# Removed again when console_only is turned off or serialpass is removed.\n" +
		"DenyUsers " + user + "\n")
}

// sshdInstalled reports whether the root has an OpenSSH server.
func (c *Console) sshdInstalled() bool {
	return c.exists("usr/sbin/sshd") || c.exists(SSHDConfigPath)
}

// applySSHD writes the DenyUsers drop-in, checks the whole configuration
// with sshd -t and reloads a running sshd. On the live system a failing
// check puts the previous drop-in back and is an error; under another root
// it is a warning (an image being prepared has no host keys yet).
//
// Where sshd_config does not include the drop-in, it has no effect: the
// main file (never edited) must then keep the password off SSH by itself,
// or that is the error.
func (c *Console) applySSHD(ctx context.Context, user string) (warnings []string, err error) {
	if !c.sshdInstalled() {
		return nil, nil
	}
	main, _, err := c.read(SSHDConfigPath)
	if err != nil {
		return nil, err
	}
	var policyErr error
	if !includesDropIns(main) {
		policyErr = c.sshPasswordPolicy(main, user)
	}
	warnings, err = c.writeSSHDropIn(ctx, user)
	return warnings, errors.Join(policyErr, err)
}

// sshPasswordPolicy returns nil when the main sshd_config keeps password
// logins of user off SSH, else an error worded as the status reason.
func (c *Console) sshPasswordPolicy(main []byte, user string) error {
	possible, fix, err := c.sshPasswordVerdict(main, user)
	switch {
	case err != nil:
		return fmt.Errorf("sshd_config does not include sshd_config.d, and whether it allows password logins is unknown: %w", err)
	case !possible:
		return nil
	}
	return fmt.Errorf("sshd_config does not include sshd_config.d and allows password logins: "+
		"the console password would work over SSH; add 'Include /etc/ssh/sshd_config.d/*.conf' or %s", fix)
}

// privsepMissing is what sshd -t says before sshd first started (the unit
// creates /run/sshd): the check cannot run yet.
const privsepMissing = "Missing privilege separation directory"

// writeSSHDropIn writes our drop-in, checks it and reloads sshd.
func (c *Console) writeSSHDropIn(ctx context.Context, user string) (warnings []string, err error) {
	want := sshDropIn(user)
	old, existed, err := c.read(SSHDropInPath)
	if err != nil {
		return nil, err
	}
	if existed && bytes.Equal(old, want) {
		return nil, nil
	}
	if err := c.write(SSHDropInPath, want, 0o644); err != nil {
		return nil, err
	}
	if err := c.checkSSHD(ctx); err != nil {
		if !c.live() {
			return []string{err.Error()}, nil
		}
		if strings.Contains(err.Error(), privsepMissing) && c.sshdRunning(ctx) == "" {
			// At boot, or sshd installed but stopped: sshd runs this very
			// check itself before it starts, so keep the drop-in.
			return []string{fmt.Sprintf("sshd has not started yet (no /run/sshd), so /%s was not checked with sshd -t; sshd checks it when it starts", SSHDropInPath)}, nil
		}
		if existed {
			err = joinRestore(err, c.write(SSHDropInPath, old, 0o644))
		} else {
			_, rerr := c.remove(SSHDropInPath)
			err = joinRestore(err, rerr)
		}
		return nil, err
	}
	return nil, c.reloadSSHD(ctx)
}

func joinRestore(err, rerr error) error {
	if rerr != nil {
		return fmt.Errorf("%w (and putting the old drop-in back: %w)", err, rerr)
	}
	return err
}

// removeSSHD deletes our drop-in and reloads a running sshd.
func (c *Console) removeSSHD(ctx context.Context) ([]string, error) {
	removed, err := c.remove(SSHDropInPath)
	if err != nil || !removed {
		return nil, err
	}
	return nil, c.reloadSSHD(ctx)
}

// checkSSHD runs sshd -t on the root's main configuration. Include paths
// in it are absolute, so under another root the check is a best effort.
func (c *Console) checkSSHD(ctx context.Context) error {
	argv := []string{"/usr/sbin/sshd", "-t"}
	if !c.live() {
		argv = []string{"sshd", "-t", "-f", c.path(SSHDConfigPath)}
	}
	if _, err := c.Run.Run(ctx, nil, argv...); err != nil {
		return fmt.Errorf("checking the sshd configuration with our drop-in /%s: %w", SSHDropInPath, err)
	}
	return nil
}

// sshdRunning returns the unit name of a running sshd, or "" (always ""
// under another root).
func (c *Console) sshdRunning(ctx context.Context) string {
	if !c.live() {
		return ""
	}
	for _, unit := range []string{"ssh.service", "sshd.service"} {
		if _, err := c.Run.Run(ctx, nil, "systemctl", "is-active", "--quiet", unit); err == nil {
			return unit
		}
	}
	return ""
}

// reloadSSHD reloads sshd when it runs; never under another root.
func (c *Console) reloadSSHD(ctx context.Context) error {
	unit := c.sshdRunning(ctx)
	if unit == "" {
		return nil
	}
	if _, err := c.Run.Run(ctx, nil, "systemctl", "reload", unit); err != nil {
		return fmt.Errorf("reloading sshd: %w", err)
	}
	return nil
}
