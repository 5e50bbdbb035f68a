package doctor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/serialpass/serialpass/agent"
)

// ec2Checks: CreateTags (DryRun) and the account's serial console access.
func (d *Doctor) ec2Checks(ctx context.Context, inst instance, add func(...Check)) {
	switch {
	case !inst.reachable || inst.id == "":
		add(Check{Name: "CreateTags allowed", Level: Fail, Why: notOnEC2})
	case d.EC2 == nil:
		add(Check{Name: "CreateTags allowed", Level: Fail, Why: "cannot check: " + oneLine(d.NoAWS)})
	default:
		if err := d.EC2.CheckCreateTags(ctx, inst.id); err != nil {
			c := Check{Name: "CreateTags allowed", Level: Fail, Why: oneLine(err)}
			if errors.Is(err, agent.ErrAccessDenied) {
				c.Fix = "allow ec2:CreateTags on this instance (tag keys " + d.Config.TagPrefix + agent.TagStatus + "*) in the instance role"
			}
			add(c)
		} else {
			add(Check{Name: "CreateTags allowed", Level: Pass, Why: "a DryRun CreateTags on " + inst.id + " would succeed"})
		}
	}

	const sca = "serial console access"
	if d.EC2 == nil {
		add(Check{Name: sca, Level: Warn, Why: "unknown: " + oneLine(d.NoAWS)})
	} else {
		on, known, err := d.EC2.SerialConsoleAccess(ctx)
		switch {
		case err != nil || !known:
			add(Check{Name: sca, Level: Warn, Why: "unknown: GetSerialConsoleAccessStatus: " + oneLine(err),
				Fix: "check with aws ec2 get-serial-console-access-status (needs ec2:GetSerialConsoleAccessStatus)"})
		case !on:
			add(Check{Name: sca, Level: Fail, Why: "serial console access is disabled for the account in this region",
				Fix: "aws ec2 enable-serial-console-access"})
		default:
			add(Check{Name: sca, Level: Pass, Why: "enabled for the account in this region"})
		}
	}
}

func (d *Doctor) hostChecks(inst instance, add func(...Check)) {
	dev := d.Console.Device()
	kernelOK, source, err := d.Host.KernelConsole(dev)
	switch {
	case err != nil:
		add(Check{Name: "kernel console", Level: Fail, Why: oneLine(err)})
	case kernelOK:
		add(Check{Name: "kernel console", Level: Pass, Why: fmt.Sprintf("console=%s in %s", dev, source)})
	default:
		add(Check{Name: "kernel console", Level: Fail, Why: fmt.Sprintf("kernel console is not on %s (%s)", dev, source),
			Fix: fmt.Sprintf("add console=%s,115200n8 to GRUB_CMDLINE_LINUX (or fix_console: true), update-grub, reboot", dev)})
	}

	g := d.Host.Getty(dev)
	switch {
	case g.Masked:
		add(Check{Name: "serial getty", Level: Fail, Why: g.Unit + " is masked", Fix: "systemctl unmask " + g.Unit + " (or enable_getty: true)"})
	case g.Enabled:
		add(Check{Name: "serial getty", Level: Pass, Why: g.Unit + " is enabled"})
	case kernelOK:
		add(Check{Name: "serial getty", Level: Pass, Why: g.Unit + " is started by systemd for the kernel console"})
	default:
		add(Check{Name: "serial getty", Level: Fail, Why: g.Unit + " is disabled and the kernel console is elsewhere",
			Fix: "systemctl enable " + g.Unit + " (or enable_getty: true)"})
	}

	now := time.Now
	if d.Now != nil {
		now = d.Now
	}
	switch a, err := d.Host.Account(inst.user, now()); {
	case err != nil:
		add(Check{Name: "managed user", Level: Fail, Why: oneLine(err)})
	case !a.Exists:
		add(Check{Name: "managed user", Level: Warn, Why: "user " + inst.user + " does not exist yet",
			Fix: "serialpass creates it on its next pass (serialpass once)"})
	case a.Problem != "":
		add(Check{Name: "managed user", Level: Fail, Why: "user " + inst.user + " " + a.Problem, Fix: "serialpass once (it sets the password again)"})
	default:
		add(Check{Name: "managed user", Level: Pass, Why: "user " + inst.user + " exists, is unlocked and its password is not expired"})
	}
	d.consoleOnlyChecks(inst, add)
}

func (d *Doctor) consoleOnlyChecks(inst instance, add func(...Check)) {
	if !d.Console.OnlyConsole() {
		add(Check{Name: "console-only login", Level: Warn, Why: "console_only is off: the password also works wherever " + inst.user + " may log in",
			Fix: "remove console_only: false from the config"})
		return
	}
	s, err := d.Host.ConsoleOnlyState()
	switch {
	case err != nil:
		add(Check{Name: "pam_access", Level: Fail, Why: oneLine(err)})
	case !s.AccessBlock || s.AccessUser != inst.user:
		add(Check{Name: "pam_access", Level: Fail, Why: "no serialpass block for " + inst.user + " in /etc/security/access.conf", Fix: "serialpass once"})
	case !s.PAMAccess:
		add(Check{Name: "pam_access", Level: Fail, Why: "pam_access is not enabled in /etc/pam.d/login", Fix: "serialpass once"})
	default:
		add(Check{Name: "pam_access", Level: Pass, Why: inst.user + " may log in on " + d.Console.Device() + " only"})
	}
	switch {
	case err != nil:
	case !s.SSHInstalled:
		add(Check{Name: "sshd drop-in", Level: Pass, Why: "no OpenSSH server installed"})
	case !s.SSHDropIn:
		add(Check{Name: "sshd drop-in", Level: Fail, Why: "/etc/ssh/sshd_config.d/serialpass.conf is missing", Fix: "serialpass once"})
	case !s.SSHIncluded:
		add(Check{Name: "sshd drop-in", Level: Fail, Why: "/etc/ssh/sshd_config does not include sshd_config.d/*.conf: the drop-in has no effect",
			Fix: "add 'Include /etc/ssh/sshd_config.d/*.conf' at the top of /etc/ssh/sshd_config"})
	default:
		add(Check{Name: "sshd drop-in", Level: Pass, Why: "sshd refuses " + inst.user + " (DenyUsers)"})
	}
}
