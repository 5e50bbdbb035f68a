package console

import (
	"bytes"
	"context"
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

// includesDropIns reports whether sshd_config has an active Include of
// sshd_config.d/*.conf.
func includesDropIns(cfg []byte) bool {
	start, _ := scanLines(cfg, func(line string) bool {
		f := strings.Fields(line)
		if len(f) < 2 || !strings.EqualFold(f[0], "Include") {
			return false
		}
		for _, p := range f[1:] {
			if strings.HasSuffix(p, "sshd_config.d/*.conf") {
				return true
			}
		}
		return false
	})
	return start >= 0
}

// sshdInstalled reports whether the root has an OpenSSH server.
func (c *Console) sshdInstalled() bool {
	return c.exists("usr/sbin/sshd") || c.exists(SSHDConfigPath)
}

// applySSHD writes the DenyUsers drop-in, checks the whole configuration
// with sshd -t and reloads a running sshd. On the live system a failing
// check puts the previous drop-in back and is an error; under another root
// it is a warning (an image being prepared has no host keys yet).
func (c *Console) applySSHD(ctx context.Context, user string) (warnings []string, err error) {
	if !c.sshdInstalled() {
		return nil, nil
	}
	main, _, err := c.read(SSHDConfigPath)
	if err != nil {
		return nil, err
	}
	if !includesDropIns(main) {
		warnings = append(warnings, fmt.Sprintf("/%s does not include /etc/ssh/sshd_config.d/*.conf: "+
			"add 'Include /etc/ssh/sshd_config.d/*.conf' at its top, or 'DenyUsers %s', to refuse SSH logins of the console user",
			SSHDConfigPath, user))
	}
	want := sshDropIn(user)
	old, existed, err := c.read(SSHDropInPath)
	if err != nil {
		return warnings, err
	}
	if existed && bytes.Equal(old, want) {
		return warnings, nil
	}
	if err := c.write(SSHDropInPath, want, 0o644); err != nil {
		return warnings, err
	}
	if err := c.checkSSHD(ctx); err != nil {
		if !c.live() {
			return append(warnings, err.Error()), nil
		}
		if existed {
			err = joinRestore(err, c.write(SSHDropInPath, old, 0o644))
		} else {
			_, rerr := c.remove(SSHDropInPath)
			err = joinRestore(err, rerr)
		}
		return warnings, err
	}
	return warnings, c.reloadSSHD(ctx)
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

// reloadSSHD reloads sshd when it runs; never under another root.
func (c *Console) reloadSSHD(ctx context.Context) error {
	if !c.live() {
		return nil
	}
	for _, unit := range []string{"ssh.service", "sshd.service"} {
		if _, err := c.Run.Run(ctx, nil, "systemctl", "is-active", "--quiet", unit); err != nil {
			continue // not running (or not this name)
		}
		if _, err := c.Run.Run(ctx, nil, "systemctl", "reload", unit); err != nil {
			return fmt.Errorf("reloading sshd: %w", err)
		}
		return nil
	}
	return nil
}
