//go:build bench

package bench_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/serialpass/serialpass/agent"
	"github.com/serialpass/serialpass/agent/daemon"
	"github.com/serialpass/serialpass/agent/ec2tags"
	"github.com/serialpass/serialpass/agent/secrets"
	"github.com/serialpass/serialpass/bench/throttle"
	"github.com/serialpass/serialpass/internal/testbed"
)

var (
	fleetN  = flag.Int("fleet", 1000, "agents booting at once")
	limits  = throttle.DefaultLimits()
	_       = registerLimits()
	fleetTO = flag.Duration("fleet-timeout", 5*time.Minute, "agents not ready by then gave up")
	// Knobs to try a product change without making it; zero values are
	// the product's defaults (as cmd/serialpass wires them).
	fleetJitter   = flag.Float64("fleet-jitter", 0, "daemon.Loop Jitter (0: the product's default)")
	fleetBackoff  = flag.Duration("fleet-backoff", 0, "daemon.Loop Backoff (0: the product's default)")
	fleetAttempts = flag.Int("fleet-tag-attempts", 0, "SDK attempts per CreateTags (0: the SDK's default, 3)")
)

func registerLimits() bool { limits.RegisterFlags(flag.CommandLine); return true }

// TestFleetBoot boots N agents at the same instant in this process, each an
// agent.Agent run by daemon.Loop with the product's defaults, using the
// real Secrets Manager and EC2 adapters (one SDK client each, as on
// separate instances) through the token-bucket throttle to moto. Instance
// metadata is an in-process TagSource per agent (IMDS is per instance and
// not the shared bottleneck); accounts are an in-memory AccountManager
// (1,000 sandbox roots would measure fork/exec of chpasswd on 2 cores, not
// the API behaviour under study); state is in memory.
func TestFleetBoot(t *testing.T) {
	const secret = "fleet/console"
	n := *fleetN
	moto := testbed.StartMoto(t)
	moto.CreateSecret(t, secret, "Fleet-Pw-0123456789")
	moto.InstanceTags(t, "i-0f1ee70000000000")
	th, err := throttle.New(moto.Endpoint, limits)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(th)
	t.Cleanup(srv.Close)

	var (
		passes    atomic.Int64
		readyMu   sync.Mutex
		readyAt   []time.Duration
		wg        sync.WaitGroup
		gate      = make(chan struct{})
		quiet     = slog.New(slog.NewTextHandler(io.Discard, nil))
		ctx, stop = context.WithTimeout(context.Background(), *fleetTO)
	)
	defer stop()
	var begin time.Time
	for i := range n {
		cfg := testbed.MotoConfigAt(srv.URL)
		id := fmt.Sprintf("i-0f1ee7%011x", i)
		a := &agent.Agent{
			Config:   agent.DefaultConfig(),
			Identity: agent.Identity{InstanceID: id, Region: testbed.MotoRegion},
			Tags:     memTags{"serialpass:secret": secret},
			Secrets:  secrets.New(cfg),
			Accounts: newMemAccounts(),
			Reporter: ec2tags.New(cfg, func(o *ec2.Options) {
				if *fleetAttempts > 0 {
					o.RetryMaxAttempts = *fleetAttempts
				}
			}),
			State: &memState{},
			Clock: agent.SystemClock{},
			Log:   quiet,
		}
		actx, cancel := context.WithCancel(ctx)
		loop := &daemon.Loop{
			Interval: a.Config.Interval.D(),
			Jitter:   *fleetJitter,
			Backoff:  *fleetBackoff,
			Clock:    agent.SystemClock{},
			Log:      quiet,
			Pass: func(c context.Context) agent.Result {
				passes.Add(1)
				res := a.Pass(c)
				if res.Err == nil && res.Status == agent.StatusReady {
					readyMu.Lock()
					readyAt = append(readyAt, time.Since(begin))
					readyMu.Unlock()
					cancel() // ready and reported: the next pass is 15 min away
				}
				return res
			},
		}
		wg.Go(func() {
			defer cancel()
			<-gate
			_ = loop.Run(actx)
		})
	}
	begin = time.Now()
	close(gate)
	wg.Wait()
	elapsed := time.Since(begin)

	counts := th.Counts()
	slices.Sort(readyAt)
	ready := len(readyAt)
	total, throttled := 0, 0
	var rows strings.Builder
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range counts {
			if !yield(k) {
				return
			}
		}
	}) {
		c := counts[k]
		total += c.Allowed + c.Throttled
		throttled += c.Throttled
		fmt.Fprintf(&rows, "| %s | %d | %d |\n", k, c.Allowed, c.Throttled)
	}
	// The optimum: every class drains its burst, then its refill rate.
	opt := max(0, (float64(n)-limits.TagsBurst)/limits.TagsRate, (float64(n)-limits.SMReadBurst)/limits.SMReadRate)
	var all time.Duration
	if ready > 0 {
		all = readyAt[ready-1]
	}
	retries := float64(total-2*n) / float64(n)
	var s strings.Builder
	knobs := "the product's defaults"
	if *fleetJitter != 0 || *fleetBackoff != 0 || *fleetAttempts != 0 {
		knobs = fmt.Sprintf("**changed** knobs: Loop Jitter %g, Backoff %v, SDK CreateTags attempts %d (0 = default)", *fleetJitter, *fleetBackoff, *fleetAttempts)
	}
	fmt.Fprintf(&s, "N = %d agents in one process (daemon.Loop with %s; real Secrets Manager and EC2 adapters through the throttle to moto), started at the same instant.\n", n, knobs)
	fmt.Fprintf(&s, "Buckets: Secrets Manager reads %.0f burst / %.0f per s, writes %.0f / %.0f per s (published quotas); CreateTags %.0f burst / %.0f per s (**assumption**: AWS does not publish it).\n\n",
		limits.SMReadBurst, limits.SMReadRate, limits.SMWriteBurst, limits.SMWriteRate, limits.TagsBurst, limits.TagsRate)
	s.WriteString("| action | allowed | throttled |\n|---|---|---|\n")
	s.WriteString(rows.String())
	if ready > 0 {
		q := func(p float64) float64 { return readyAt[min(ready-1, int(p*float64(ready)))].Seconds() }
		fmt.Fprintf(&s, "\nReady: %d of %d; time to ready (s) min %.2f / median %.2f / p90 %.2f / max %.2f.\n", ready, n, q(0), q(0.5), q(0.9), all.Seconds())
	}
	fmt.Fprintf(&s, "Optimum the CreateTags bucket allows: %.1f s; all ready after %.1f s = **%.2f×** the optimum (goal ≤ 1.2× — %s).\n",
		opt, all.Seconds(), all.Seconds()/opt, verdict(ready == n && all.Seconds() <= 1.2*opt))
	fmt.Fprintf(&s, "API calls: %d in all (minimum %d), %d throttled; **%.2f retries per agent** (calls beyond one GetSecretValue and one CreateTags; goal ≤ 2 — %s), of which CreateTags %.2f; %d passes (%.2f per agent).\n",
		total, 2*n, throttled, retries, verdict(retries <= 2), float64(counts["CreateTags"].Allowed+counts["CreateTags"].Throttled-n)/float64(n),
		passes.Load(), float64(passes.Load())/float64(n))
	fmt.Fprintf(&s, "Gave up (not ready within %v): **%d** (goal 0 — %s). Wall time of the run: %.1f s.\n", *fleetTO, n-ready, verdict(ready == n), elapsed.Seconds())
	section(t, "3-fleet", s.String())
}

// memTags is one instance's tags.
type memTags map[string]string

func (m memTags) Tags(_ context.Context, prefix string) (map[string]string, error) {
	out := map[string]string{}
	for k, v := range m {
		if strings.HasPrefix(k, prefix) {
			out[k] = v
		}
	}
	return out, nil
}

// memState keeps State in memory.
type memState struct {
	mu sync.Mutex
	st agent.State
}

func (m *memState) Load() (agent.State, error) { m.mu.Lock(); defer m.mu.Unlock(); return m.st, nil }
func (m *memState) Save(s agent.State) error   { m.mu.Lock(); defer m.mu.Unlock(); m.st = s; return nil }

// memAccounts is an account database in memory, with a Debian-like system.
type memAccounts struct {
	mu    sync.Mutex
	users map[string]agent.Account
}

func newMemAccounts() *memAccounts { return &memAccounts{users: map[string]agent.Account{}} }

func (m *memAccounts) System(context.Context) (agent.System, error) {
	return agent.System{UIDMin: 1000, EncryptMethod: "SHA512", Groups: []string{"root", "adm", "sudo", "users"},
		Shells: []string{"/bin/sh", "/bin/bash"}}, nil
}

func (m *memAccounts) Lookup(_ context.Context, name string) (agent.Account, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.users[name]
	return a, ok, nil
}

func (m *memAccounts) Create(_ context.Context, spec agent.AccountSpec) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.users[spec.Name] = agent.Account{Name: spec.Name, UID: 1000 + len(m.users), Groups: spec.Groups, Shell: spec.Shell, Locked: true}
	return nil
}

func (m *memAccounts) AddGroups(_ context.Context, name string, groups []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	a := m.users[name]
	a.Groups = append(a.Groups, groups...)
	m.users[name] = a
	return nil
}

func (m *memAccounts) SetPassword(_ context.Context, name string, pw agent.Password) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.users[name]
	if !ok {
		return fmt.Errorf("setting password of user %q: no such user", name)
	}
	sum := sha256.Sum256(pw.Reveal())
	a.Fingerprint, a.Locked = hex.EncodeToString(sum[:]), false
	m.users[name] = a
	return nil
}

func (m *memAccounts) Delete(_ context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.users, name)
	return nil
}

func (m *memAccounts) Lock(_ context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	a := m.users[name]
	a.Locked = true
	m.users[name] = a
	return nil
}
