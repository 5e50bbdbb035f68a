package doctor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/serialpass/serialpass/agent"
	"github.com/serialpass/serialpass/agent/console"
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
	d.loginRecordsCheck(inst, add)
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
	if err == nil {
		add(sshdCheck(s, inst.user))
	}
}

// sshdCheck judges the sshd side as the agent's pass does: the drop-in
// where sshd_config includes it; where it does not, the main file must
// keep password logins off SSH by itself (SSHRefusesPassword, computed for
// the user of our access.conf block, so only trusted for that user or, with
// no block, for none in particular).
func sshdCheck(s console.ConsoleOnlyState, user string) Check {
	const name = "sshd drop-in"
	switch {
	case !s.SSHInstalled:
		return Check{Name: name, Level: Pass, Why: "no OpenSSH server installed"}
	case !s.SSHIncluded && s.SSHRefusesPassword && (s.AccessUser == "" || s.AccessUser == user):
		return Check{Name: name, Level: Pass,
			Why: "/etc/ssh/sshd_config does not include sshd_config.d, so the drop-in has no effect, " +
				"but the main file itself refuses password logins for " + user}
	case !s.SSHIncluded:
		return Check{Name: name, Level: Fail,
			Why: "/etc/ssh/sshd_config does not include sshd_config.d/*.conf and allows password logins: the console password would work over SSH",
			Fix: "add 'Include /etc/ssh/sshd_config.d/*.conf' at the top of /etc/ssh/sshd_config, " +
				"or set PasswordAuthentication no and ChallengeResponseAuthentication no in it"}
	case !s.SSHDropIn:
		return Check{Name: name, Level: Fail, Why: "/etc/ssh/sshd_config.d/serialpass.conf is missing", Fix: "serialpass once"}
	}
	return Check{Name: name, Level: Pass, Why: "sshd refuses " + user + " (DenyUsers)"}
}

// loginRecordsCheck: post-use rotation (rotate mode, rotate_after_use on)
// sees logins only in the login records; without any it never happens,
// and the agent says nothing about it on each pass.
func (d *Doctor) loginRecordsCheck(inst instance, add func(...Check)) {
	after := d.Config.RotateAfterUse.D()
	if d.Logins == nil || !inst.managed || inst.set.Mode != agent.ModeRotate || after <= 0 {
		return
	}
	const name = "login records"
	never := fmt.Sprintf("rotation %s after each use never happens", after)
	files := strings.Join(d.Logins.Paths(), " nor ")
	found, n, err := d.Logins.LoginRecords()
	switch {
	case err != nil:
		add(Check{Name: name, Level: Warn, Why: oneLine(err) + ": " + never})
	case len(found) == 0:
		add(Check{Name: name, Level: Warn,
			Why: "no login records: neither " + files + " exists, so " + never,
			Fix: "record logins: create the wtmp file (install -m 664 -o root -g utmp /dev/null /var/log/wtmp: login and sshd only append to an existing one) " +
				"or add pam_wtmpdb to the login session stack (Debian: apt install libpam-wtmpdb); else change the " +
				d.Config.TagPrefix + agent.TagRotate + " tag after each use"})
	case n == 0:
		add(Check{Name: name, Level: Warn,
			Why: "no login records in " + strings.Join(found, " and ") + ": nothing writes them, so " + never,
			Fix: "check that logins on the console are recorded there (login(1) writes wtmp; pam_wtmpdb, where the login PAM stack has it, writes the database); else change the " +
				d.Config.TagPrefix + agent.TagRotate + " tag after each use"})
	default:
		add(Check{Name: name, Level: Pass,
			Why: fmt.Sprintf("%s: %d records; the password is rotated %s after each use", strings.Join(found, " and "), n, after)})
	}
}
