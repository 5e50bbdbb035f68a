package doctor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/serialpass/serialpass/agent"
)

// secretChecks checks the secret as a pass would use it. Pull mode:
// DescribeSecret, then GetSecretValue of AWSCURRENT and whether it holds a
// usable password (never shown). Rotate mode: DescribeSecret only; a
// missing secret is created by the first pass, and the write permissions
// cannot be checked without writing.
func (d *Doctor) secretChecks(ctx context.Context, inst instance, add func(...Check)) {
	switch {
	case !inst.reachable:
		add(Check{Name: "secret readable", Level: Fail, Why: notOnEC2})
		return
	case !inst.managed:
		add(Check{Name: "secret readable", Level: Warn, Why: "no secret to check (see tags in metadata)"})
		return
	case d.Secrets == nil:
		add(Check{Name: "secret readable", Level: Fail, Why: "cannot check: " + oneLine(d.NoAWS)})
		return
	case inst.set.Mode == agent.ModeRotate && strings.Contains(inst.secret, agent.InstanceIDVar):
		add(Check{Name: "secret described", Level: Fail,
			Why: "cannot name the secret " + inst.secret + ": the instance id is not in instance metadata"})
		return
	}
	info, err := d.Secrets.DescribeSecret(ctx, inst.secret)
	if inst.set.Mode == agent.ModeRotate {
		d.rotateSecretChecks(inst, info, err, add)
		return
	}
	add(d.secretCheck(inst, "secret described", "DescribeSecret", err))
	sv, err := d.Secrets.GetSecret(ctx, inst.secret, agent.StageCurrent)
	c := d.secretCheck(inst, "secret readable", "GetSecretValue", err)
	if err == nil {
		if _, perr := agent.ParseSecret(sv.Value, inst.user); perr != nil {
			c = Check{Name: "secret readable", Level: Fail,
				Why: fmt.Sprintf("AWSCURRENT of %s is not a usable password for %s: %s", inst.secret, inst.user, agent.Reason(perr, sv.Value)),
				Fix: `store {"username": "` + inst.user + `", "password": "..."} or the bare password as the SecretString`}
		} else {
			c.Why = fmt.Sprintf("GetSecretValue of %s works: AWSCURRENT (version %s) holds a password for %s (not shown)", inst.secret, short(sv.VersionID), inst.user)
		}
	}
	add(c)
}

// secretCheck turns the outcome of one Secrets Manager read into a check.
func (d *Doctor) secretCheck(inst instance, name, call string, err error) Check {
	switch {
	case err == nil:
		return Check{Name: name, Level: Pass, Why: call + " of " + inst.secret + " works"}
	case errors.Is(err, agent.ErrAccessDenied):
		return Check{Name: name, Level: Fail, Why: oneLine(err),
			Fix: "allow secretsmanager:" + call + " on " + inst.secret + " in the instance role (and kms:Decrypt on its key)"}
	case errors.Is(err, agent.ErrSecretNotFound):
		return Check{Name: name, Level: Fail, Why: oneLine(err),
			Fix: "create the secret or fix the " + d.Config.TagPrefix + agent.TagSecret + " tag"}
	}
	return Check{Name: name, Level: Fail, Why: oneLine(err)}
}

// rotateSecretChecks: the per-instance secret as DescribeSecret sees it,
// and what rotate mode needs beyond reading, which doctor cannot try.
func (d *Doctor) rotateSecretChecks(inst instance, info agent.SecretInfo, err error, add func(...Check)) {
	const name = "secret described"
	switch {
	case err == nil:
		why := "DescribeSecret of " + inst.secret + " works"
		if cur := stageHolder(info, agent.StageCurrent); cur != "" {
			why += " (AWSCURRENT on version " + short(cur) + ")"
		} else {
			why += " (no AWSCURRENT version yet: the next pass writes one)"
		}
		if p := stageHolder(info, agent.StagePending); p != "" {
			why += "; AWSPENDING on version " + short(p) + ": a rotation is open, the next pass finishes it"
		}
		add(Check{Name: name, Level: Pass, Why: why})
	case errors.Is(err, agent.ErrSecretNotFound):
		add(Check{Name: name, Level: Warn,
			Why: inst.secret + " does not exist yet: it will be created on the first pass; needs secretsmanager:CreateSecret",
			Fix: "allow secretsmanager:CreateSecret and secretsmanager:TagResource on " + inst.secret + " in the instance role" + d.kmsHint()})
	case errors.Is(err, agent.ErrAccessDenied):
		add(Check{Name: name, Level: Fail, Why: oneLine(err),
			Fix: "allow secretsmanager:DescribeSecret on " + inst.secret + " in the instance role"})
	default:
		add(Check{Name: name, Level: Fail, Why: oneLine(err)})
	}
	add(Check{Name: "rotate permissions", Level: Warn,
		Why: "secretsmanager:PutSecretValue and UpdateSecretVersionStage on " + inst.secret +
			" cannot be checked without writing a version (and doctor does not read a rotate-mode password)",
		Fix: "make sure the instance role allows secretsmanager:GetSecretValue, PutSecretValue and UpdateSecretVersionStage on " +
			inst.secret + d.kmsHint()})
}

// kmsHint names the KMS permissions when the config sets a key.
func (d *Doctor) kmsHint() string {
	if d.Config.KMSKeyID == "" {
		return ""
	}
	return ", and kms:GenerateDataKey and kms:Decrypt on " + d.Config.KMSKeyID
}

// stageHolder returns the version holding stage, or "".
func stageHolder(info agent.SecretInfo, stage string) string {
	for id, stages := range info.Versions {
		if slices.Contains(stages, stage) {
			return id
		}
	}
	return ""
}

// short is a VersionId's first 8 characters, as the banner shows it.
func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}
