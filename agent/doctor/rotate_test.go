package doctor

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/serialpass/serialpass/agent"
)

// TestDoctorSecretByMode: doctor resolves the secret as the agent does and
// calls only what the mode needs (GetSecretValue in pull mode alone).
func TestDoctorSecretByMode(t *testing.T) {
	const id = "i-0123456789abcdef0"
	tests := []struct {
		name    string
		mutate  func(d *Doctor)
		calls   []string
		want    map[string]Level // checks that must be present at that level
		absent  []string         // checks that must not be there
		whyHas  map[string]string
		failing bool
	}{
		{
			name: "pull: secret tag as it is",
			mutate: func(d *Doctor) {
				setTag(d, "serialpass:secret", "team/{instance-id}")
			},
			calls:  []string{"DescribeSecret team/{instance-id}", "GetSecretValue team/{instance-id}"},
			want:   map[string]Level{"tags in metadata": Pass, "secret described": Pass, "secret readable": Pass},
			absent: []string{"rotate permissions"},
			whyHas: map[string]string{"tags in metadata": "mode pull, secret team/{instance-id}", "secret readable": "version 01234567"},
		},
		{
			name: "rotate without a secret tag: the template, missing secret",
			mutate: func(d *Doctor) {
				onlyTags(d, map[string]string{"serialpass:mode": "rotate"})
				d.Secrets = &fakeSecrets{describeErr: agent.ErrSecretNotFound}
			},
			calls:  []string{"DescribeSecret serialpass/" + id},
			want:   map[string]Level{"tags in metadata": Pass, "secret described": Warn, "rotate permissions": Warn},
			absent: []string{"secret readable"},
			whyHas: map[string]string{
				"tags in metadata":   "mode rotate, secret serialpass/" + id + " (the config's secret_template)",
				"secret described":   "will be created on the first pass; needs secretsmanager:CreateSecret",
				"rotate permissions": "PutSecretValue and UpdateSecretVersionStage",
			},
		},
		{
			name: "rotate with a secret tag naming the instance",
			mutate: func(d *Doctor) {
				onlyTags(d, map[string]string{"serialpass:mode": "rotate", "serialpass:secret": "team/{instance-id}/console"})
				d.Secrets = &fakeSecrets{versions: map[string][]string{"aaaaaaaa-1111": {"AWSCURRENT"}, "bbbbbbbb-2222": {"AWSPENDING"}}}
			},
			calls: []string{"DescribeSecret team/" + id + "/console"},
			want:  map[string]Level{"secret described": Pass, "rotate permissions": Warn},
			whyHas: map[string]string{
				"secret described": "AWSCURRENT on version aaaaaaaa); AWSPENDING on version bbbbbbbb: a rotation is open",
			},
		},
		{
			name: "rotate with the config's template and KMS key",
			mutate: func(d *Doctor) {
				onlyTags(d, map[string]string{"serialpass:mode": "rotate"})
				d.Config.SecretTemplate = "fleet/{instance-id}/serial"
				d.Config.KMSKeyID = "alias/serialpass"
				d.Secrets = &fakeSecrets{describeErr: agent.ErrSecretNotFound}
			},
			calls:  []string{"DescribeSecret fleet/" + id + "/serial"},
			want:   map[string]Level{"secret described": Warn, "rotate permissions": Warn},
			whyHas: map[string]string{"secret described": "fleet/" + id + "/serial does not exist yet"},
		},
		{
			name: "rotate, DescribeSecret denied",
			mutate: func(d *Doctor) {
				onlyTags(d, map[string]string{"serialpass:mode": "rotate"})
				d.Secrets = &fakeSecrets{describeErr: agent.ErrAccessDenied}
			},
			calls:   []string{"DescribeSecret serialpass/" + id},
			want:    map[string]Level{"secret described": Fail, "rotate permissions": Warn},
			failing: true,
		},
		{
			name: "rotate, instance id unknown",
			mutate: func(d *Doctor) {
				onlyTags(d, map[string]string{"serialpass:mode": "rotate"})
				delete(d.IMDS.(*fakeIMDS).paths, "instance-id")
			},
			want:    map[string]Level{"secret described": Fail, "CreateTags allowed": Fail},
			absent:  []string{"rotate permissions", "secret readable"},
			failing: true,
		},
		{
			name: "rotate, no role: the fix lists rotate's permissions",
			mutate: func(d *Doctor) {
				onlyTags(d, map[string]string{"serialpass:mode": "rotate"})
				delete(d.IMDS.(*fakeIMDS).paths, "iam/security-credentials/")
			},
			calls:   []string{"DescribeSecret serialpass/" + id},
			want:    map[string]Level{"instance role": Fail},
			failing: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := healthy()
			tt.mutate(d)
			checks := d.Run(context.Background())
			byName := map[string]Check{}
			for _, c := range checks {
				byName[c.Name] = c
			}
			for name, want := range tt.want {
				if c, ok := byName[name]; !ok || c.Level != want {
					t.Errorf("%s = %+v, want level %q", name, c, want)
				}
			}
			for _, name := range tt.absent {
				if c, ok := byName[name]; ok {
					t.Errorf("unexpected check %+v", c)
				}
			}
			for name, part := range tt.whyHas {
				if !strings.Contains(byName[name].Why, part) {
					t.Errorf("%s says %q, want it to contain %q", name, byName[name].Why, part)
				}
			}
			if calls := d.Secrets.(*fakeSecrets).calls; !slices.Equal(calls, tt.calls) {
				t.Errorf("Secrets Manager calls = %q, want %q", calls, tt.calls)
			}
			if Failed(checks) != tt.failing {
				t.Errorf("Failed = %v, want %v", Failed(checks), tt.failing)
			}
			if d.Config.KMSKeyID != "" && !strings.Contains(byName["rotate permissions"].Fix, "kms:GenerateDataKey") {
				t.Errorf("rotate permissions fix %q does not name the KMS key", byName["rotate permissions"].Fix)
			}
			if c, ok := byName["instance role"]; ok && c.Level == Fail && !strings.Contains(c.Fix, "PutSecretValue") {
				t.Errorf("instance role fix %q lacks rotate mode's permissions", c.Fix)
			}
		})
	}
}

// onlyTags replaces the instance's tags (Name stays).
func onlyTags(d *Doctor, tags map[string]string) {
	m := d.IMDS.(*fakeIMDS)
	for p := range m.paths {
		if strings.HasPrefix(p, "tags/instance/") {
			delete(m.paths, p)
		}
	}
	m.paths["tags/instance"] = "Name"
	for k, v := range tags {
		setTag(d, k, v)
	}
}
