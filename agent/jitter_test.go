package agent

import (
	"fmt"
	"testing"
	"time"
)

// TestMaxAgeJitter: the max-age jitter is stable for one password, differs
// between secrets (and between rotations of one), and stays within
// min(maxAge/10, maxJitter).
func TestMaxAgeJitter(t *testing.T) {
	since := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		maxAge time.Duration
		bound  time.Duration
	}{
		{"default 30 days: capped at maxJitter", 30 * 24 * time.Hour, maxJitter},
		{"a year: still maxJitter", 365 * 24 * time.Hour, maxJitter},
		{"5 days: a tenth", 5 * 24 * time.Hour, 12 * time.Hour},
		{"the 10-minute minimum: a tenth", MinRotationInterval, time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const n = 500
			seen := map[time.Duration]bool{}
			var lo, hi time.Duration = tt.bound, 0
			for i := range n {
				name := fmt.Sprintf("serialpass/i-%017x", i)
				j := jitter(name, since, tt.maxAge)
				if j < 0 || j >= tt.bound {
					t.Fatalf("jitter(%s) = %s, want in [0, %s)", name, j, tt.bound)
				}
				if again := jitter(name, since, tt.maxAge); again != j {
					t.Fatalf("jitter(%s) = %s then %s: not stable", name, j, again)
				}
				seen[j] = true
				lo, hi = min(lo, j), max(hi, j)
			}
			if len(seen) < n*9/10 {
				t.Errorf("%d secrets share %d jitters: too few distinct", n, len(seen))
			}
			// Spread over the range, not bunched at one end.
			if lo > tt.bound/10 || hi < tt.bound*9/10 {
				t.Errorf("jitters span [%s, %s], want most of [0, %s)", lo, hi, tt.bound)
			}
			name := "serialpass/i-0123456789abcdef0"
			if jitter(name, since, tt.maxAge) == jitter(name, since.Add(tt.maxAge), tt.maxAge) &&
				jitter(name, since, tt.maxAge) == jitter(name, since.Add(2*tt.maxAge), tt.maxAge) {
				t.Error("one secret gets the same jitter on every rotation")
			}
		})
	}
	t.Run("no span, no jitter", func(t *testing.T) {
		if j := jitter("s", since, 5*time.Nanosecond); j != 0 {
			t.Errorf("jitter with a max age of 5 ns = %s, want 0", j)
		}
	})
}
