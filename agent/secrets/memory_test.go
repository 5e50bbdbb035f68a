package secrets

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/serialpass/serialpass/agent"
)

func newSeeded(t *testing.T) *Memory {
	t.Helper()
	m := NewMemory()
	_, err := m.CreateSecret(context.Background(), agent.NewSecret{Name: "s", Token: tok(1), Value: agent.NewPassword("v1")})
	if err != nil {
		t.Fatal(err)
	}
	m.ResetCalls()
	return m
}

func TestMemoryFaults(t *testing.T) {
	ctx := context.Background()
	boom := errors.New("boom")

	t.Run("FailNext fails before the effect, in order", func(t *testing.T) {
		m := newSeeded(t)
		m.FailNext(OpPutSecretValue, boom, agent.ErrThrottled)
		for _, want := range []error{boom, agent.ErrThrottled} {
			if _, err := m.PutSecretValue(ctx, "s", tok(2), agent.NewPassword("v2"), nil); !errors.Is(err, want) {
				t.Fatalf("PutSecretValue = %v, want %v", err, want)
			}
		}
		if _, err := m.GetSecretVersion(ctx, "s", tok(2)); !errors.Is(err, agent.ErrSecretNotFound) {
			t.Fatalf("a failed put left a version: %v", err)
		}
		if _, err := m.PutSecretValue(ctx, "s", tok(2), agent.NewPassword("v2"), nil); err != nil {
			t.Fatalf("third PutSecretValue: %v", err)
		}
		if got := m.Calls(OpPutSecretValue); got != 3 {
			t.Errorf("Calls = %d, want 3", got)
		}
	})

	t.Run("a fault after the effect is a lost response", func(t *testing.T) {
		m := newSeeded(t)
		var seen []Call
		m.SetFault(func(c Call) error {
			seen = append(seen, c)
			if c.Op == OpUpdateSecretVersionStage && c.After {
				return boom
			}
			return nil
		})
		if _, err := m.PutSecretValue(ctx, "s", tok(2), agent.NewPassword("v2"), []string{agent.StagePending}); err != nil {
			t.Fatal(err)
		}
		err := m.UpdateSecretVersionStage(ctx, "s", agent.StageCurrent, tok(2), tok(1))
		if !errors.Is(err, boom) {
			t.Fatalf("UpdateSecretVersionStage = %v, want boom", err)
		}
		cur, err := m.GetSecret(ctx, "s", agent.StageCurrent)
		if err != nil || cur.VersionID != tok(2) {
			t.Fatalf("the move did not take effect: %+v, %v", cur, err)
		}
		want := []Call{
			{OpPutSecretValue, "s", false}, {OpPutSecretValue, "s", true},
			{OpUpdateSecretVersionStage, "s", false}, {OpUpdateSecretVersionStage, "s", true},
			{OpGetSecretValue, "s", false}, {OpGetSecretValue, "s", true},
		}
		if fmt.Sprint(seen) != fmt.Sprint(want) {
			t.Errorf("hook saw %v, want %v", seen, want)
		}
	})

	t.Run("the hook may call the store", func(t *testing.T) {
		m := newSeeded(t)
		m.SetFault(func(c Call) error {
			if c.Op == OpPutSecretValue && !c.After {
				_, err := m.DescribeSecret(ctx, c.SecretID)
				return err
			}
			return nil
		})
		if _, err := m.PutSecretValue(ctx, "s", tok(2), agent.NewPassword("v2"), nil); err != nil {
			t.Fatal(err)
		}
	})
}

func TestMemoryRules(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		call func(m *Memory) error
		want error
	}{
		{"short token", func(m *Memory) error {
			_, err := m.PutSecretValue(ctx, "s", "short", agent.NewPassword("x"), nil)
			return err
		}, ErrInvalidRequest},
		{"AWSCURRENT cannot just be removed", func(m *Memory) error {
			return m.UpdateSecretVersionStage(ctx, "s", agent.StageCurrent, "", tok(1))
		}, ErrInvalidRequest},
		{"move to a missing version", func(m *Memory) error {
			return m.UpdateSecretVersionStage(ctx, "s", agent.StageCurrent, tok(7), tok(1))
		}, ErrInvalidRequest},
		{"no version at all", func(m *Memory) error {
			return m.UpdateSecretVersionStage(ctx, "s", agent.StagePending, "", "")
		}, ErrInvalidRequest},
		{"generated token", func(m *Memory) error {
			id, err := m.PutSecretValue(ctx, "s", "", agent.NewPassword("x"), nil)
			if err == nil && len(id) != 36 {
				return fmt.Errorf("generated version id %q", id)
			}
			return err
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newSeeded(t)
			if err := tt.call(m); !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
		})
	}
}

func TestMemoryPrunesUnlabelledVersions(t *testing.T) {
	m := newSeeded(t)
	ctx := context.Background()
	for i := 2; i <= maxVersions+20; i++ {
		if _, err := m.PutSecretValue(ctx, "s", tok(i), agent.NewPassword(fmt.Sprint(i)), nil); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(m.secrets["s"].versions); n != maxVersions {
		t.Errorf("%d versions kept, want %d", n, maxVersions)
	}
	if v, err := m.GetSecret(ctx, "s", agent.StagePrevious); err != nil || v.VersionID != tok(maxVersions+19) {
		t.Errorf("AWSPREVIOUS = %+v, %v", v, err)
	}
}

func TestMemoryConcurrent(t *testing.T) {
	m := newSeeded(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				id, err := m.PutSecretValue(ctx, "s", tok(1000*(g+1)+i), agent.NewPassword("x"), []string{agent.StagePending})
				if err != nil {
					t.Error(err)
					return
				}
				cur, err := m.GetSecret(ctx, "s", agent.StageCurrent)
				if err != nil {
					t.Error(err)
					return
				}
				_ = m.UpdateSecretVersionStage(ctx, "s", agent.StageCurrent, id, cur.VersionID) // may lose a race
			}
		})
	}
	wg.Wait()
	info, err := m.DescribeSecret(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, stages := range info.Versions {
		for _, s := range stages {
			count[s]++
		}
	}
	for stage, n := range count {
		if n != 1 {
			t.Errorf("stage %s on %d versions", stage, n)
		}
	}
	if got := m.Calls(OpPutSecretValue); got != 400 {
		t.Errorf("Calls(PutSecretValue) = %d, want 400", got)
	}
}

func BenchmarkMemoryGetSecret(b *testing.B) {
	m := NewMemory()
	ctx := context.Background()
	if _, err := m.CreateSecret(ctx, agent.NewSecret{Name: "s", Value: agent.NewPassword("v")}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := m.GetSecret(ctx, "s", ""); err != nil {
			b.Fatal(err)
		}
	}
}
