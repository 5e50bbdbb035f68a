package doctor

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/serialpass/serialpass/agent"
)

const notOnEC2 = "cannot check: instance metadata is unreachable (not on EC2, or the metadata endpoint is disabled)"

func (d *Doctor) instanceChecks(ctx context.Context, add func(...Check)) instance {
	inst := instance{user: d.Config.User}
	if err := d.IMDS.Token(ctx); err != nil {
		add(Check{Name: "IMDS reachable", Level: Fail, Why: "no IMDSv2 token: " + oneLine(err),
			Fix: "run on EC2 with the metadata endpoint enabled (aws ec2 modify-instance-metadata-options --http-endpoint enabled)"})
		for _, n := range []string{"IMDSv2 enforced", "tags in metadata", "instance role", "instance type"} {
			add(Check{Name: n, Level: Fail, Why: notOnEC2})
		}
		return inst
	}
	inst.reachable = true
	add(Check{Name: "IMDS reachable", Level: Pass, Why: "IMDSv2 token issued"})

	switch code, err := d.IMDS.Tokenless(ctx); {
	case err != nil:
		add(Check{Name: "IMDSv2 enforced", Level: Warn, Why: "tokenless request failed: " + oneLine(err)})
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		add(Check{Name: "IMDSv2 enforced", Level: Pass, Why: fmt.Sprintf("a tokenless (IMDSv1) request is refused (HTTP %d)", code)})
	default:
		add(Check{Name: "IMDSv2 enforced", Level: Warn, Why: fmt.Sprintf("a tokenless (IMDSv1) request answers HTTP %d", code),
			Fix: "aws ec2 modify-instance-metadata-options --http-tokens required"})
	}

	inst.id, _ = d.IMDS.Get(ctx, "instance-id")
	add(d.tagCheck(ctx, &inst))

	if role, err := d.IMDS.Get(ctx, "iam/security-credentials/"); err != nil || strings.TrimSpace(role) == "" {
		why := "no instance profile attached"
		if err != nil && !errors.Is(err, ErrNotFound) {
			why = "reading the instance role: " + oneLine(err)
		}
		add(Check{Name: "instance role", Level: Fail, Why: why,
			Fix: "attach an instance profile allowing " + rolePermissions(inst)})
	} else {
		add(Check{Name: "instance role", Level: Pass, Why: "role " + strings.Fields(role)[0]})
	}

	if typ, err := d.IMDS.Get(ctx, "instance-type"); err != nil {
		add(Check{Name: "instance type", Level: Warn, Why: "reading instance-type: " + oneLine(err)})
	} else {
		add(instanceTypeCheck(strings.TrimSpace(typ)))
	}
	return inst
}

func (d *Doctor) tagCheck(ctx context.Context, inst *instance) Check {
	const name = "tags in metadata"
	disabled := Check{Name: name, Level: Fail, Why: "instance tags are not exposed in instance metadata",
		Fix: "aws ec2 modify-instance-metadata-options --instance-metadata-tags enabled"}
	listing, err := d.IMDS.Get(ctx, "tags/instance")
	switch {
	case errors.Is(err, ErrNotFound):
		return disabled
	case err != nil:
		return Check{Name: name, Level: Fail, Why: "reading tags/instance: " + oneLine(err)}
	}
	keys := strings.Fields(listing)
	if len(keys) == 0 {
		// The agent reads an empty listing as tags not enabled, too.
		disabled.Why = "the instance tag listing is empty: tags are not exposed in instance metadata"
		return disabled
	}
	tags := map[string]string{}
	for _, key := range keys {
		short, ok := strings.CutPrefix(key, d.Config.TagPrefix)
		if !ok || agent.IsReportKey(short) {
			continue
		}
		v, err := d.IMDS.Get(ctx, "tags/instance/"+key)
		switch {
		case errors.Is(err, ErrNotFound):
			continue // removed between the listing and now
		case err != nil:
			return Check{Name: name, Level: Fail, Why: "reading the " + key + " tag: " + oneLine(err)}
		}
		tags[key] = v
	}
	set, err := agent.ParseTags(tags, d.Config)
	inst.set = set
	if agent.ValidUserName(set.User) == nil {
		inst.user = set.User
	}
	if err != nil {
		return Check{Name: name, Level: Fail, Why: oneLine(err), Fix: "fix the tag: serialpass refuses to act on the instance until then"}
	}
	secretKey, modeKey := d.Config.TagPrefix+agent.TagSecret, d.Config.TagPrefix+agent.TagMode
	if !set.Enabled() {
		return Check{Name: name, Level: Warn,
			Why: fmt.Sprintf("tags are enabled, but there is no %s tag and %s is not %s: serialpass leaves this instance alone", secretKey, modeKey, agent.ModeRotate),
			Fix: fmt.Sprintf("tag the instance %s=<secret name or ARN> (pull mode) or %s=%s", secretKey, modeKey, agent.ModeRotate)}
	}
	inst.managed = true
	inst.secret = agent.SecretName(set, d.Config, inst.id)
	why := fmt.Sprintf("mode %s, secret %s, user %s", set.Mode, inst.secret, set.User)
	if set.Mode == agent.ModeRotate && set.Secret == "" {
		why = fmt.Sprintf("mode %s, secret %s (the config's secret_template), user %s", set.Mode, inst.secret, set.User)
	}
	if len(set.Unknown) > 0 {
		why += "; ignored unknown tags: " + strings.Join(set.Unknown, ", ")
	}
	return Check{Name: name, Level: Pass, Why: why}
}

// xenFamilies are the instance families that are not built on Nitro: the
// serial console needs Nitro or bare metal.
var xenFamilies = []string{"c1", "c3", "c4", "cc1", "cc2", "cg1", "cr1", "d2", "f1", "g2", "g3", "g3s", "h1",
	"hi1", "hs1", "i2", "i3", "m1", "m2", "m3", "m4", "p2", "p3", "r3", "r4", "t1", "t2", "x1", "x1e"}

func instanceTypeCheck(typ string) Check {
	const name = "instance type"
	family, size, _ := strings.Cut(typ, ".")
	switch {
	case typ == "":
		return Check{Name: name, Level: Warn, Why: "instance type unknown"}
	case size == "metal" || strings.HasPrefix(size, "metal-"):
		return Check{Name: name, Level: Pass, Why: typ + " is bare metal"}
	case slices.Contains(xenFamilies, family):
		return Check{Name: name, Level: Fail, Why: typ + " is a Xen instance: the serial console needs Nitro or bare metal",
			Fix: "move to a Nitro instance type (for example " + nitroFor(family) + ")"}
	}
	return Check{Name: name, Level: Pass, Why: typ + " is Nitro-based"}
}

func nitroFor(family string) string {
	switch family[0] {
	case 'c':
		return "c7i"
	case 'r', 'x':
		return "r7i"
	case 't':
		return "t3"
	}
	return "m7i"
}

// rolePermissions lists what the instance role needs in the instance's mode.
func rolePermissions(inst instance) string {
	if inst.set.Mode == agent.ModeRotate {
		return "secretsmanager:DescribeSecret, GetSecretValue, CreateSecret, TagResource, PutSecretValue and UpdateSecretVersionStage on the instance's secret, and ec2:CreateTags"
	}
	return "secretsmanager:GetSecretValue and DescribeSecret on the secret, and ec2:CreateTags"
}

func oneLine(err error) string {
	if err == nil {
		return "no AWS client"
	}
	return agent.Reason(err)
}
