package agent_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/serialpass/serialpass/agent"
	"github.com/serialpass/serialpass/agent/secrets"
)

// Hand-written fakes for rotate mode's tests, which run over
// secrets.Memory (an external test package: secrets imports agent).

type tagsFake struct{ tags map[string]string }

func (f *tagsFake) Tags(context.Context, string) (map[string]string, error) { return f.tags, nil }

// accountsFake keeps accounts in memory and is the Verifier too: a
// password verifies when it is the one last set and the account is not
// locked.
type accountsFake struct {
	accounts map[string]*accountRec
	salt     int
	setErr   error
	verErr   error // returned by Verify instead of checking
	maxLen   int   // MaxPasswordLen (0: no bound)
	calls    []string
	// afterSet runs after a password took effect (nil: nothing).
	afterSet func()
}

type accountRec struct {
	acct agent.Account
	pw   string
}

func newAccountsFake() *accountsFake {
	return &accountsFake{accounts: map[string]*accountRec{"root": {acct: agent.Account{Name: "root", Locked: true}}}}
}

func (f *accountsFake) System(context.Context) (agent.System, error) {
	return agent.System{UIDMin: 1000, EncryptMethod: "SHA512", Groups: []string{"root", "sudo"}, Shells: []string{"/bin/bash"}}, nil
}

func (f *accountsFake) Lookup(_ context.Context, name string) (agent.Account, bool, error) {
	a, ok := f.accounts[name]
	if !ok {
		return agent.Account{}, false, nil
	}
	return a.acct, true, nil
}

func (f *accountsFake) Create(_ context.Context, s agent.AccountSpec) error {
	f.calls = append(f.calls, "Create")
	f.accounts[s.Name] = &accountRec{acct: agent.Account{Name: s.Name, UID: 1000 + len(f.accounts), Groups: slices.Clone(s.Groups), Shell: s.Shell, Locked: true, Fingerprint: "!"}}
	return nil
}

func (f *accountsFake) AddGroups(_ context.Context, name string, groups []string) error {
	f.calls = append(f.calls, "AddGroups")
	f.accounts[name].acct.Groups = append(f.accounts[name].acct.Groups, groups...)
	return nil
}

// RemoveAging: this fake's accounts carry no aging (Lookup reports none).
func (f *accountsFake) RemoveAging(context.Context, string) error {
	f.calls = append(f.calls, "RemoveAging")
	return nil
}

func (f *accountsFake) SetPassword(_ context.Context, name string, pw agent.Password) error {
	f.calls = append(f.calls, "SetPassword")
	if f.setErr != nil {
		return f.setErr
	}
	f.salt++
	sum := sha256.Sum256(fmt.Appendf(nil, "%d:%s", f.salt, pw.Reveal()))
	a := f.accounts[name]
	a.pw, a.acct.Locked, a.acct.Fingerprint = string(pw.Reveal()), false, hex.EncodeToString(sum[:])
	if f.afterSet != nil {
		f.afterSet()
	}
	return nil
}

func (f *accountsFake) Lock(_ context.Context, name string) error {
	f.calls = append(f.calls, "Lock")
	a := f.accounts[name]
	a.acct.Locked, a.acct.Fingerprint = true, "!"+a.acct.Fingerprint
	return nil
}

func (f *accountsFake) Delete(_ context.Context, name string) error {
	f.calls = append(f.calls, "Delete")
	delete(f.accounts, name)
	return nil
}

func (f *accountsFake) MaxPasswordLen() int { return f.maxLen }

func (f *accountsFake) Verify(_ context.Context, user string, pw agent.Password) error {
	if f.verErr != nil {
		return f.verErr
	}
	if f.maxLen > 0 && pw.Len() > f.maxLen {
		return fmt.Errorf("cannot verify the password of %q: longer than %d bytes", user, f.maxLen)
	}
	a, ok := f.accounts[user]
	if !ok || a.acct.Locked || a.pw != string(pw.Reveal()) {
		return fmt.Errorf("%w for %q", agent.ErrWrongPassword, user)
	}
	return nil
}

type reporterFake struct {
	reports []map[string]string
	err     error // refuses every report while set
}

func (f *reporterFake) Report(_ context.Context, _ string, tags map[string]string) error {
	if f.err != nil {
		return f.err
	}
	f.reports = append(f.reports, tags)
	return nil
}

// stateFake keeps the state in memory; frozen makes Save a no-op, as if
// the process had died at that moment.
type stateFake struct {
	s      agent.State
	frozen bool
}

func (m *stateFake) Load() (agent.State, error) { return m.s, nil }

// Save keeps a copy through JSON, as the state file would.
func (m *stateFake) Save(s agent.State) error {
	if m.frozen {
		return nil
	}
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	m.s = agent.State{}
	return json.Unmarshal(b, &m.s)
}

type clockFake struct{ now time.Time }

func (c *clockFake) Now() time.Time                             { return c.now }
func (c *clockFake) Sleep(context.Context, time.Duration) error { return nil }

type sessionsFake struct{ ss []agent.Session }

func (f *sessionsFake) Sessions(context.Context, string) ([]agent.Session, error) { return f.ss, nil }

// rotRig is one instance in rotate mode over secrets.Memory.
type rotRig struct {
	t        *testing.T
	tags     *tagsFake
	store    *secrets.Memory
	accounts *accountsFake
	reporter *reporterFake
	state    *stateFake
	clock    *clockFake
	sessions *sessionsFake
	agent    *agent.Agent
}

const (
	rigInstance = "i-0123456789abcdef0"
	rigSecret   = "serialpass/" + rigInstance
	rigUser     = "ec2-serial"
)

var rigStart = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

func newRotRig(t *testing.T, tags map[string]string) *rotRig {
	t.Helper()
	if tags == nil {
		tags = map[string]string{"serialpass:mode": "rotate"}
	}
	r := &rotRig{
		t: t, tags: &tagsFake{tags: tags}, store: secrets.NewMemory(), accounts: newAccountsFake(),
		reporter: &reporterFake{}, state: &stateFake{}, clock: &clockFake{now: rigStart}, sessions: &sessionsFake{},
	}
	r.store.SetClock(func() time.Time { return r.clock.now })
	cfg := agent.DefaultConfig()
	cfg.KMSKeyID = "alias/serialpass"
	r.agent = &agent.Agent{
		Config: cfg, Identity: agent.Identity{InstanceID: rigInstance, Region: "us-east-1"},
		Tags: r.tags, Secrets: r.store, Accounts: r.accounts, Reporter: r.reporter, State: r.state,
		Clock: r.clock, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Admin: r.store, Verifier: r.accounts, Sessions: r.sessions,
	}
	return r
}

func (r *rotRig) pass() agent.Result {
	r.t.Helper()
	return r.agent.Pass(context.Background())
}

// mustPass runs a pass that must end ready.
func (r *rotRig) mustPass() agent.Result {
	r.t.Helper()
	res := r.pass()
	if !res.OK() || res.Status != agent.StatusReady {
		r.t.Fatalf("pass = %+v, want ready", res)
	}
	return res
}

func (r *rotRig) advance(d time.Duration) { r.clock.now = r.clock.now.Add(d) }

// labels returns version -> stages of the instance's secret.
func (r *rotRig) labels() map[string][]string {
	r.t.Helper()
	info, err := r.store.DescribeSecret(context.Background(), rigSecret)
	if err != nil {
		r.t.Fatalf("describing the secret: %v", err)
	}
	return info.Versions
}

// checkInvariant: the local password is AWSCURRENT's, nothing else holds
// AWSPENDING, and the state has no open rotation.
func (r *rotRig) checkInvariant() (current string) {
	r.t.Helper()
	ctx := context.Background()
	cur, err := r.store.GetSecret(ctx, rigSecret, agent.StageCurrent)
	if err != nil {
		r.t.Fatalf("reading AWSCURRENT: %v", err)
	}
	pw, err := agent.ParseSecret(cur.Value, rigUser)
	if err != nil {
		r.t.Fatalf("AWSCURRENT: %v", err)
	}
	if err := r.accounts.Verify(ctx, rigUser, pw); err != nil {
		r.t.Errorf("the local password is not AWSCURRENT's: %v", err)
	}
	for v, st := range r.labels() {
		if slices.Contains(st, agent.StagePending) {
			r.t.Errorf("AWSPENDING left on version %s (%v)", v, st)
		}
	}
	if r.state.s.Rotation != nil {
		r.t.Errorf("rotation still open: %+v", r.state.s.Rotation)
	}
	return cur.VersionID
}

func (r *rotRig) lastReport() map[string]string {
	if len(r.reporter.reports) == 0 {
		return nil
	}
	return r.reporter.reports[len(r.reporter.reports)-1]
}

// holdsNow checks the invariant as it must hold at every instant, also in
// the middle of a pass: the local password is AWSCURRENT's, or
// AWSPENDING's while the instance's reported status is rotating. An
// account without a usable password holds nothing that could diverge.
func (r *rotRig) holdsNow() error {
	ctx := context.Background()
	a, ok := r.accounts.accounts[rigUser]
	if !ok || a.acct.Locked {
		return nil
	}
	info, err := r.store.DescribeSecret(ctx, rigSecret)
	if err != nil {
		return nil // no secret yet: nothing stored to diverge from
	}
	local := func(stage string) bool {
		for id, stages := range info.Versions {
			if !slices.Contains(stages, stage) {
				continue
			}
			v, err := r.store.GetSecretVersion(ctx, rigSecret, id)
			if err != nil {
				return false
			}
			pw, err := agent.ParseSecret(v.Value, rigUser)
			return err == nil && a.pw == string(pw.Reveal())
		}
		return false
	}
	switch {
	case local(agent.StageCurrent):
		return nil
	case local(agent.StagePending) && r.lastReport()["serialpass:status"] == agent.StatusRotating:
		return nil
	case local(agent.StagePending):
		return fmt.Errorf("the local password is AWSPENDING's but the instance reports %v", r.lastReport())
	}
	return fmt.Errorf("the local password is neither AWSCURRENT's nor AWSPENDING's (labels %v)", info.Versions)
}

// watchInvariant checks holdsNow around every store call and after every
// local password change, until the test ends.
func (r *rotRig) watchInvariant(extra func(secrets.Call) error) {
	busy := false
	check := func(at string) {
		if busy {
			return
		}
		busy = true
		defer func() { busy = false }()
		if err := r.holdsNow(); err != nil {
			r.t.Errorf("%s: %v", at, err)
		}
	}
	r.accounts.afterSet = func() { check("after chpasswd") }
	r.store.SetFault(func(c secrets.Call) error {
		when := "before"
		if c.After {
			when = "after"
		}
		check(when + " " + c.Op)
		if extra != nil {
			return extra(c)
		}
		return nil
	})
}
