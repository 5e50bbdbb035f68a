package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Backoff between tries while waiting for instance metadata at boot. The
// cap is small so the agent is ready seconds after IMDS comes back.
const (
	bootBackoffMin = 200 * time.Millisecond
	bootBackoffMax = 2 * time.Second
)

// WaitIdentity asks src for the instance identity until it answers or
// timeout passes. Only "unreachable" errors are retried: a metadata service
// that answers with a refusal will not change its mind.
func WaitIdentity(ctx context.Context, src IdentitySource, timeout time.Duration, clock Clock, log *slog.Logger) (Identity, error) {
	deadline := clock.Now().Add(timeout)
	wait := bootBackoffMin
	for try := 1; ; try++ {
		id, err := src.Identity(ctx)
		if err == nil {
			if try > 1 {
				log.Info("instance metadata is reachable", "tries", try)
			}
			return id, nil
		}
		if !errors.Is(err, ErrUnreachable) {
			return Identity{}, fmt.Errorf("reading instance identity: %w", err)
		}
		if try == 1 {
			// Progress, not yet a failure: the error itself is returned
			// if the wait runs out.
			log.Info("instance metadata unreachable, waiting", "timeout", timeout)
		}
		left := deadline.Sub(clock.Now())
		if left <= 0 {
			return Identity{}, fmt.Errorf("instance metadata unreachable for %s (boot_timeout): %w", timeout, err)
		}
		if err := clock.Sleep(ctx, min(wait, left)); err != nil {
			return Identity{}, fmt.Errorf("waiting for instance metadata: %w", err)
		}
		wait = min(2*wait, bootBackoffMax)
	}
}
