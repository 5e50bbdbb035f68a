package testbed

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

func TestMoto(t *testing.T) {
	m := StartMoto(t)
	ctx := context.Background()

	t.Run("secret helpers", func(t *testing.T) {
		arn, v1 := m.CreateSecret(t, "tb/secret", "one")
		if !strings.HasPrefix(arn, "arn:aws:secretsmanager:us-east-1:") || v1 == "" {
			t.Fatalf("CreateSecret = %q, %q", arn, v1)
		}
		v2 := m.PutSecret(t, "tb/secret", "two")
		want := map[string][]string{v1: {"AWSPREVIOUS"}, v2: {"AWSCURRENT"}}
		if got := m.SecretStages(t, "tb/secret"); !stagesEqual(got, want) {
			t.Fatalf("stages after PutSecret = %v, want %v", got, want)
		}
	})

	t.Run("PutSecret after a stage move", func(t *testing.T) {
		// moto's PutSecretValue alone would leave AWSCURRENT on two
		// versions here; PutSecret must not.
		_, v1 := m.CreateSecret(t, "tb/moved", "one")
		c := secretsmanager.NewFromConfig(m.AWSConfig(t))
		out, err := c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
			SecretId: aws.String("tb/moved"), SecretString: aws.String("two"), VersionStages: []string{"AWSPENDING"},
		})
		if err != nil {
			t.Fatal(err)
		}
		v2 := aws.ToString(out.VersionId)
		_, err = c.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
			SecretId: aws.String("tb/moved"), VersionStage: aws.String("AWSCURRENT"),
			MoveToVersionId: aws.String(v2), RemoveFromVersionId: aws.String(v1),
		})
		if err != nil {
			t.Fatal(err)
		}
		v3 := m.PutSecret(t, "tb/moved", "three")
		want := map[string][]string{v1: nil, v2: {"AWSPENDING", "AWSPREVIOUS"}, v3: {"AWSCURRENT"}}
		if got := m.SecretStages(t, "tb/moved"); !stagesEqual(got, want) {
			t.Fatalf("stages = %v, want %v", got, want)
		}
	})

	t.Run("instance tags", func(t *testing.T) {
		const id = "i-0123456789abcdef0"
		c := ec2.NewFromConfig(m.AWSConfig(t))
		_, err := c.CreateTags(ctx, &ec2.CreateTagsInput{
			Resources: []string{id},
			Tags:      []ec2types.Tag{{Key: aws.String("serialpass:status"), Value: aws.String("ready")}},
		})
		if err != nil {
			t.Fatal(err)
		}
		got := m.InstanceTags(t, id)
		if want := map[string]string{"serialpass:status": "ready"}; !maps.Equal(got, want) {
			t.Fatalf("InstanceTags = %v, want %v", got, want)
		}
		if got := m.InstanceTags(t, "i-00000000000000000"); len(got) != 0 {
			t.Fatalf("tags of an untagged instance = %v", got)
		}
	})

	t.Run("env", func(t *testing.T) {
		env := m.Env()
		for _, want := range []string{"AWS_ENDPOINT_URL=" + m.Endpoint, "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_REGION=us-east-1"} {
			if !slices.Contains(env, want) {
				t.Errorf("Env() = %v, missing %q", env, want)
			}
		}
	})
}

// stagesEqual compares stage maps ignoring label order; a nil or empty
// label list matches a missing version only when want lists it as nil.
func stagesEqual(got, want map[string][]string) bool {
	if len(got) != len(want) {
		return false
	}
	for v, w := range want {
		g, ok := got[v]
		if !ok || !slices.Equal(slices.Sorted(slices.Values(g)), slices.Sorted(slices.Values(w))) {
			return false
		}
	}
	return true
}
