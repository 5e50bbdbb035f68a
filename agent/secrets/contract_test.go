package secrets

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/serialpass/serialpass/agent"
	"github.com/serialpass/serialpass/internal/testbed"
)

// TestContractMemory and TestContractAWS run one contract against both
// stores, so Memory cannot drift from Secrets Manager (as moto emulates it).
func TestContractMemory(t *testing.T) {
	mem := NewMemory()
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	mem.SetClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	testContract(t, mem, true, storeClock{
		now:     func() time.Time { mu.Lock(); defer mu.Unlock(); return now },
		advance: func(d time.Duration) { mu.Lock(); defer mu.Unlock(); now = now.Add(d) },
	})
}

func TestContractAWS(t *testing.T) {
	m := testbed.StartMoto(t)
	testContract(t, New(m.AWSConfig(t)), false, storeClock{now: time.Now, advance: time.Sleep, slack: time.Second})
}

// storeClock is the store's clock as the contract sees it: the real one
// for moto, whose dates have whole seconds (slack), a fake one for Memory.
type storeClock struct {
	now     func() time.Time
	advance func(time.Duration)
	slack   time.Duration
}

// tok makes a valid ClientRequestToken (32 to 64 characters).
func tok(n int) string { return fmt.Sprintf("serialpass-contract-token-%06d", n) }

// testContract drives s through a rotation's life. strict adds the
// Secrets Manager rules moto does not enforce (see the moto quirks in
// the package tests' log).
func testContract(t *testing.T, s agent.SecretAdmin, strict bool, clk storeClock) {
	ctx := context.Background()
	const name, missing = "contract/secret", "contract/missing"
	v1, v2, v3 := agent.NewPassword("first-Secret1"), agent.NewPassword("second-Secret2"), agent.NewPassword("third-Secret3")
	tags := map[string]string{"serialpass:instance-id": "i-0123456789abcdef0", "serialpass:user": "ec2-serial"}
	var arn string

	wantStages := func(t *testing.T, want map[string][]string) {
		t.Helper()
		info, err := s.DescribeSecret(ctx, name)
		if err != nil {
			t.Fatalf("DescribeSecret: %v", err)
		}
		if got := labelled(info.Versions); !stagesEqual(got, want) {
			t.Fatalf("stages = %v, want %v", got, want)
		}
	}
	// lastChanged checks that the secret's LastChanged lies in [from, to],
	// give or take the store's resolution, and returns it.
	lastChanged := func(t *testing.T, from, to time.Time) time.Time {
		t.Helper()
		info, err := s.DescribeSecret(ctx, name)
		if err != nil {
			t.Fatalf("DescribeSecret: %v", err)
		}
		if got := info.LastChanged; got.Before(from.Add(-clk.slack)) || got.After(to.Add(clk.slack)) {
			t.Fatalf("LastChanged = %v, want between %v and %v (± %v)", got, from, to, clk.slack)
		}
		return info.LastChanged
	}
	var created time.Time
	wantValue := func(t *testing.T, stage string, want agent.Password, wantID string) {
		t.Helper()
		got, err := s.GetSecret(ctx, name, stage)
		if err != nil {
			t.Fatalf("GetSecret(%s): %v", stage, err)
		}
		if !got.Value.Equal(want) || got.VersionID != wantID || !slices.Contains(got.Stages, stage) {
			t.Fatalf("GetSecret(%s) = version %s stages %v, value equal %v; want version %s", stage, got.VersionID, got.Stages, got.Value.Equal(want), wantID)
		}
	}
	wantErr := func(t *testing.T, what string, err, sentinel error, secret ...string) {
		t.Helper()
		if !errors.Is(err, sentinel) {
			t.Fatalf("%s: error %v, want one wrapping %v", what, err, sentinel)
		}
		for _, v := range secret {
			if strings.Contains(err.Error(), v) {
				t.Fatalf("%s: error text carries the secret value: %v", what, err)
			}
		}
	}

	t.Run("missing secret", func(t *testing.T) {
		_, err := s.GetSecret(ctx, missing, agent.StageCurrent)
		wantErr(t, "GetSecret", err, agent.ErrSecretNotFound)
		_, err = s.GetSecretVersion(ctx, missing, tok(1))
		wantErr(t, "GetSecretVersion", err, agent.ErrSecretNotFound)
		_, err = s.DescribeSecret(ctx, missing)
		wantErr(t, "DescribeSecret", err, agent.ErrSecretNotFound)
		_, err = s.PutSecretValue(ctx, missing, tok(1), v1, nil)
		wantErr(t, "PutSecretValue", err, agent.ErrSecretNotFound, "first-Secret1")
		err = s.UpdateSecretVersionStage(ctx, missing, agent.StagePending, "", tok(1))
		wantErr(t, "UpdateSecretVersionStage", err, agent.ErrSecretNotFound)
	})

	t.Run("create", func(t *testing.T) {
		before := clk.now()
		got, err := s.CreateSecret(ctx, agent.NewSecret{
			Name: name, Description: "serialpass contract", KMSKeyID: "alias/serialpass-test",
			Tags: tags, Token: tok(1), Value: v1,
		})
		if err != nil {
			t.Fatalf("CreateSecret: %v", err)
		}
		if got.Name != name || got.ARN == "" || got.VersionID != tok(1) || !slices.Equal(got.Stages, []string{agent.StageCurrent}) {
			t.Fatalf("CreateSecret = %+v", got)
		}
		arn = got.ARN
		wantStages(t, map[string][]string{tok(1): {agent.StageCurrent}})
		created = lastChanged(t, before, clk.now())
	})

	t.Run("create again", func(t *testing.T) {
		_, err := s.CreateSecret(ctx, agent.NewSecret{Name: name, Token: tok(9), Value: agent.NewPassword("taken-Secret9")})
		wantErr(t, "CreateSecret on a taken name", err, agent.ErrSecretExists, "taken-Secret9")
		got, err := s.CreateSecret(ctx, agent.NewSecret{Name: name, Tags: tags, Token: tok(1), Value: v1})
		if err != nil || got.VersionID != tok(1) {
			t.Fatalf("repeated CreateSecret with its token = %+v, %v; want version %s", got, err, tok(1))
		}
		wantStages(t, map[string][]string{tok(1): {agent.StageCurrent}})
	})

	t.Run("read by name and ARN", func(t *testing.T) {
		wantValue(t, agent.StageCurrent, v1, tok(1))
		got, err := s.GetSecret(ctx, arn, "")
		if err != nil || got.VersionID != tok(1) || !got.Value.Equal(v1) || got.Name != name || got.ARN != arn {
			t.Fatalf("GetSecret by ARN, no stage = %+v, %v", got, err)
		}
		info, err := s.DescribeSecret(ctx, arn)
		if err != nil {
			t.Fatalf("DescribeSecret by ARN: %v", err)
		}
		if info.ARN != arn || info.Name != name || !maps.Equal(info.Tags, tags) {
			t.Fatalf("DescribeSecret = %+v, want tags %v", info, tags)
		}
	})

	t.Run("put without stages becomes current", func(t *testing.T) {
		id, err := s.PutSecretValue(ctx, name, tok(2), v2, nil)
		if err != nil || id != tok(2) {
			t.Fatalf("PutSecretValue = %q, %v", id, err)
		}
		wantStages(t, map[string][]string{tok(1): {agent.StagePrevious}, tok(2): {agent.StageCurrent}})
		wantValue(t, agent.StageCurrent, v2, tok(2))
		wantValue(t, agent.StagePrevious, v1, tok(1))
	})

	t.Run("put pending", func(t *testing.T) {
		// A new version is a change: LastChanged moves on (by more than
		// the store's resolution).
		clk.advance(2*clk.slack + 100*time.Millisecond)
		before := clk.now()
		for range 2 { // the second call is a retry: idempotent
			id, err := s.PutSecretValue(ctx, name, tok(3), v3, []string{agent.StagePending})
			if err != nil || id != tok(3) {
				t.Fatalf("PutSecretValue = %q, %v", id, err)
			}
		}
		wantStages(t, map[string][]string{tok(1): {agent.StagePrevious}, tok(2): {agent.StageCurrent}, tok(3): {agent.StagePending}})
		wantValue(t, agent.StageCurrent, v2, tok(2))
		wantValue(t, agent.StagePending, v3, tok(3))
		if got := lastChanged(t, before, clk.now()); !got.After(created) {
			t.Fatalf("LastChanged = %v after a new version, not after the creation's %v", got, created)
		}
	})

	t.Run("reused token with another value", func(t *testing.T) {
		_, err := s.PutSecretValue(ctx, name, tok(2), agent.NewPassword("other-Secret"), nil)
		wantErr(t, "reusing the current version's token", err, agent.ErrSecretExists, "other-Secret")
		if !strict {
			t.Log("moto quirk: a reused token of an AWSPENDING version overwrites it; not checked here")
		} else {
			_, err = s.PutSecretValue(ctx, name, tok(3), agent.NewPassword("other-Secret"), []string{agent.StagePending})
			wantErr(t, "reusing the pending version's token", err, agent.ErrSecretExists, "other-Secret")
		}
		wantValue(t, agent.StagePending, v3, tok(3))
		wantValue(t, agent.StageCurrent, v2, tok(2))
	})

	t.Run("read versions", func(t *testing.T) {
		got, err := s.GetSecretVersion(ctx, name, tok(3))
		if err != nil || !got.Value.Equal(v3) || got.VersionID != tok(3) || !slices.Equal(got.Stages, []string{agent.StagePending}) {
			t.Fatalf("GetSecretVersion = %+v, %v", got, err)
		}
		_, err = s.GetSecretVersion(ctx, name, tok(99))
		wantErr(t, "GetSecretVersion of a missing version", err, agent.ErrSecretNotFound)
		_, err = s.GetSecret(ctx, name, "NOSUCHSTAGE")
		wantErr(t, "GetSecret of a missing stage", err, agent.ErrSecretNotFound)
	})

	t.Run("move current", func(t *testing.T) {
		err := s.UpdateSecretVersionStage(ctx, name, agent.StageCurrent, tok(1), "")
		wantErr(t, "moving AWSCURRENT without naming its version", err, ErrInvalidRequest)
		if err := s.UpdateSecretVersionStage(ctx, name, agent.StageCurrent, tok(3), tok(2)); err != nil {
			t.Fatalf("moving AWSCURRENT: %v", err)
		}
		wantStages(t, map[string][]string{tok(2): {agent.StagePrevious}, tok(3): {agent.StageCurrent, agent.StagePending}})
		if err := s.UpdateSecretVersionStage(ctx, name, agent.StagePending, "", tok(3)); err != nil {
			t.Fatalf("clearing AWSPENDING: %v", err)
		}
		wantStages(t, map[string][]string{tok(2): {agent.StagePrevious}, tok(3): {agent.StageCurrent}})
		wantValue(t, agent.StageCurrent, v3, tok(3))
		wantValue(t, agent.StagePrevious, v2, tok(2))
		err = s.UpdateSecretVersionStage(ctx, name, agent.StagePending, "", tok(3))
		wantErr(t, "clearing a stage the version lacks", err, ErrInvalidRequest)
	})

	t.Run("roll back", func(t *testing.T) {
		if err := s.UpdateSecretVersionStage(ctx, name, agent.StageCurrent, tok(2), tok(3)); err != nil {
			t.Fatalf("moving AWSCURRENT back: %v", err)
		}
		wantStages(t, map[string][]string{tok(2): {agent.StageCurrent}, tok(3): {agent.StagePrevious}})
		wantValue(t, agent.StageCurrent, v2, tok(2))
	})

	t.Run("a stage lives on one version", func(t *testing.T) {
		for _, n := range []int{4, 5} {
			if _, err := s.PutSecretValue(ctx, name, tok(n), agent.NewPassword(fmt.Sprintf("pending-%d", n)), []string{agent.StagePending}); err != nil {
				t.Fatalf("PutSecretValue %d: %v", n, err)
			}
		}
		wantStages(t, map[string][]string{tok(2): {agent.StageCurrent}, tok(3): {agent.StagePrevious}, tok(5): {agent.StagePending}})
		if !strict {
			t.Log("moto quirk: UpdateSecretVersionStage of a label held elsewhere, without RemoveFromVersionId, duplicates it; not checked here")
			return
		}
		err := s.UpdateSecretVersionStage(ctx, name, agent.StagePending, tok(4), "")
		wantErr(t, "moving AWSPENDING without naming its version", err, ErrInvalidRequest)
		wantStages(t, map[string][]string{tok(2): {agent.StageCurrent}, tok(3): {agent.StagePrevious}, tok(5): {agent.StagePending}})
	})
}

// labelled drops versions without staging labels: Secrets Manager leaves
// them out of DescribeSecret, moto lists them.
func labelled(v map[string][]string) map[string][]string {
	out := map[string][]string{}
	for id, stages := range v {
		if len(stages) > 0 {
			out[id] = stages
		}
	}
	return out
}

func stagesEqual(got, want map[string][]string) bool {
	return maps.EqualFunc(got, want, func(g, w []string) bool {
		return slices.Equal(slices.Sorted(slices.Values(g)), slices.Sorted(slices.Values(w)))
	})
}
