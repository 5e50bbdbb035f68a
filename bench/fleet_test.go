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
	"maps"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/serialpass/serialpass/agent"
	"github.com/serialpass/serialpass/agent/daemon"
	"github.com/serialpass/serialpass/agent/ec2tags"
	"github.com/serialpass/serialpass/agent/secrets"
	"github.com/serialpass/serialpass/bench/throttle"
	"github.com/serialpass/serialpass/internal/testbed"
)

var (
	fleetN       = flag.Int("fleet", 1000, "agents booting at once, pull mode")
	fleetRotateN = flag.Int("fleet-rotate", 100, "agents booting at once, rotate mode")
	limits       = throttle.DefaultLimits()
	_            = registerLimits()
	fleetTO      = flag.Duration("fleet-timeout", 5*time.Minute, "agents not ready by then gave up")
)

func registerLimits() bool { limits.RegisterFlags(flag.CommandLine); return true }

// TestFleetBoot boots N agents at the same instant in this process, each an
// agent.Agent run by daemon.Loop wired as `serialpass run` wires it (Pass,
// and Report for a throttled report), using the real Secrets Manager and
// EC2 adapters (one SDK client each, as on separate instances) through the
// token-bucket throttle to moto. Instance metadata is an in-process
// TagSource per agent (IMDS is per instance and not the shared
// bottleneck); accounts are an in-memory AccountManager (1,000 sandbox
// roots would measure fork/exec of chpasswd on 2 cores, not the API
// behaviour under study); state is in memory.
func TestFleetBoot(t *testing.T) {
	moto := testbed.StartMoto(t)
	moto.CreateSecret(t, fleetSecret, "Fleet-Pw-0123456789")
	moto.InstanceTags(t, "i-0f1ee70000000000")
	var s strings.Builder
	for _, run := range []struct {
		mode string
		n    int
	}{{agent.ModePull, *fleetN}, {agent.ModeRotate, *fleetRotateN}} {
		if run.n <= 0 {
			continue
		}
		// One agent alone, unthrottled: the calls a boot costs at least.
		alone := bootFleet(t, moto, run.mode, 1, throttle.Limits{}, "alone")
		if alone.ready != 1 {
			t.Fatalf("%s mode: a single unthrottled agent did not become ready", run.mode)
		}
		res := bootFleet(t, moto, run.mode, run.n, limits, "fleet")
		res.write(&s, run.mode, alone)
	}
	section(t, "3-fleet", s.String())
}

const fleetSecret = "fleet/console"

// fleetResult is what one boot of a fleet measured.
type fleetResult struct {
	n, ready int
	readyAt  []time.Duration // sorted
	counts   map[string]throttle.Count
	passes   int64
	elapsed  time.Duration
}

// bootFleet starts n agents in mode at the same instant behind a throttle
// with limits and waits until each is ready or fleetTO passes. tag keeps
// the instance ids (and rotate mode's secrets) of runs apart.
func bootFleet(t *testing.T, moto *testbed.Moto, mode string, n int, l throttle.Limits, tag string) fleetResult {
	th, err := throttle.New(moto.Endpoint, l)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(th)
	defer srv.Close()
	var (
		passes    atomic.Int64
		readyMu   sync.Mutex
		readyAt   []time.Duration
		wg        sync.WaitGroup
		gate      = make(chan struct{})
		quiet     = slog.New(slog.NewTextHandler(io.Discard, nil))
		ctx, stop = context.WithTimeout(context.Background(), *fleetTO)
		begin     time.Time
	)
	defer stop()
	tags := memTags{"serialpass:secret": fleetSecret}
	if mode == agent.ModeRotate {
		tags = memTags{"serialpass:mode": agent.ModeRotate} // secret from the template, per instance
	}
	prefix := fmt.Sprintf("%x", sha256.Sum256([]byte(mode+tag+time.Now().String())))[:6]
	for i := range n {
		cfg := testbed.MotoConfigAt(srv.URL)
		store := secrets.New(cfg)
		accounts := newMemAccounts()
		a := &agent.Agent{
			Config:   agent.DefaultConfig(),
			Identity: agent.Identity{InstanceID: fmt.Sprintf("i-0%s%011x", prefix, i), Region: testbed.MotoRegion},
			Tags:     tags,
			Secrets:  store,
			Admin:    store,
			Verifier: accounts,
			Accounts: accounts,
			Reporter: ec2tags.New(cfg),
			State:    &memState{},
			Clock:    agent.SystemClock{},
			Log:      quiet,
		}
		actx, cancel := context.WithCancel(ctx)
		done := func(res agent.Result) agent.Result {
			if res.Err == nil && res.Status == agent.StatusReady {
				readyMu.Lock()
				readyAt = append(readyAt, time.Since(begin))
				readyMu.Unlock()
				cancel() // ready and reported: the next pass is 15 min away
			}
			return res
		}
		loop := &daemon.Loop{
			Interval: a.Config.Interval.D(),
			Clock:    agent.SystemClock{},
			Log:      quiet,
			Pass: func(c context.Context) agent.Result {
				passes.Add(1)
				return done(a.Pass(c))
			},
			Report: func(c context.Context) agent.Result { return done(a.RetryReport(c)) },
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
	slices.Sort(readyAt)
	return fleetResult{n: n, ready: len(readyAt), readyAt: readyAt, counts: th.Counts(), passes: passes.Load(), elapsed: time.Since(begin)}
}

// calls is the number of requests of the result's run, throttled or not,
// per bucket class of the throttle.
func (r fleetResult) calls() (total int, byClass map[string]float64) {
	byClass = map[string]float64{}
	for _, c := range r.counts {
		n := c.Allowed + c.Throttled
		total += n
		byClass[c.Class] += float64(c.Allowed)
	}
	return total, byClass
}

// write renders the result as markdown, against alone (one agent's boot).
func (r fleetResult) write(s *strings.Builder, mode string, alone fleetResult) {
	minimum, perAgent := alone.calls()
	total, _ := r.calls()
	throttled := 0
	fmt.Fprintf(s, "### %s mode, N = %d\n\n", mode, r.n)
	fmt.Fprintf(s, "N agents in one process, each daemon.Loop with Pass and Report as `serialpass run` wires them, real Secrets Manager and EC2 adapters through the throttle to moto, started at the same instant. "+
		"Buckets: Secrets Manager reads %.0f burst / %.0f per s, writes %.0f / %.0f per s (published quotas); CreateTags %.0f burst / %.0f per s (**assumption**: AWS does not publish it).\n\n",
		limits.SMReadBurst, limits.SMReadRate, limits.SMWriteBurst, limits.SMWriteRate, limits.TagsBurst, limits.TagsRate)
	s.WriteString("| action | one agent alone | allowed | throttled |\n|---|---|---|---|\n")
	for _, k := range slices.Sorted(maps.Keys(r.counts)) {
		c := r.counts[k]
		throttled += c.Throttled
		fmt.Fprintf(s, "| %s | %d | %d | %d |\n", k, alone.counts[k].Allowed, c.Allowed, c.Throttled)
	}
	// The optimum: each class drains its burst, then its refill rate, for
	// N times what one agent needs of it.
	opt := 0.0
	for class, calls := range perAgent {
		burst, rate := limits.Bucket(class)
		if rate > 0 {
			opt = max(opt, (float64(r.n)*calls-burst)/rate)
		}
	}
	var all time.Duration
	if r.ready > 0 {
		q := func(p float64) float64 { return r.readyAt[min(r.ready-1, int(p*float64(r.ready)))].Seconds() }
		all = r.readyAt[r.ready-1]
		fmt.Fprintf(s, "\nReady: %d of %d; time to ready (s) min %.2f / median %.2f / p90 %.2f / max %.2f.\n", r.ready, r.n, q(0), q(0.5), q(0.9), all.Seconds())
	}
	if opt > 0 {
		fmt.Fprintf(s, "Optimum the buckets allow: %.1f s; all ready after %.1f s = **%.2f×** the optimum (goal ≤ 1.2× — %s).\n",
			opt, all.Seconds(), all.Seconds()/opt, verdict(r.ready == r.n && all.Seconds() <= 1.2*opt))
	} else {
		fmt.Fprintf(s, "The buckets' bursts cover the whole fleet (optimum 0 s): all ready after %.2f s.\n", all.Seconds())
	}
	retries := float64(total-minimum*r.n) / float64(r.n)
	fmt.Fprintf(s, "API calls: %d in all (one agent alone makes %d: minimum %d), %d throttled; **%.2f retries per agent** (calls beyond the minimum; goal ≤ 2 — %s); %d passes (%.2f per agent).\n",
		total, minimum, minimum*r.n, throttled, retries, verdict(retries <= 2), r.passes, float64(r.passes)/float64(r.n))
	fmt.Fprintf(s, "Gave up (not ready within %v): **%d** (goal 0 — %s). Wall time of the run: %.1f s.\n\n", *fleetTO, r.n-r.ready, verdict(r.ready == r.n), r.elapsed.Seconds())
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

// Verify checks pw against the in-memory "hash", as a login would.
func (m *memAccounts) Verify(_ context.Context, name string, pw agent.Password) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	sum := sha256.Sum256(pw.Reveal())
	if a, ok := m.users[name]; !ok || a.Locked || a.Fingerprint != hex.EncodeToString(sum[:]) {
		return fmt.Errorf("verifying the password of %q: %w", name, agent.ErrWrongPassword)
	}
	return nil
}

// RemoveAging: these accounts carry no aging (Lookup reports none).
func (m *memAccounts) RemoveAging(context.Context, string) error { return nil }

// MaxPasswordLen: the in-memory hash takes any length.
func (m *memAccounts) MaxPasswordLen() int { return 0 }

func (m *memAccounts) Lock(_ context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	a := m.users[name]
	a.Locked = true
	m.users[name] = a
	return nil
}
