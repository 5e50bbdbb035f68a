package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"slices"
	"time"
)

// Hand-written fakes of the seams, for the core's unit tests.

type fakeTags struct {
	tags  map[string]string
	err   error
	calls int
}

func (f *fakeTags) Tags(_ context.Context, prefix string) (map[string]string, error) {
	f.calls++
	return f.tags, f.err
}

type fakeSecrets struct {
	byID  map[string]SecretVersion
	err   error
	calls int
}

func (f *fakeSecrets) GetSecret(_ context.Context, id, stage string) (SecretVersion, error) {
	f.calls++
	if f.err != nil {
		return SecretVersion{}, f.err
	}
	v, ok := f.byID[id]
	if !ok || stage != StageCurrent {
		return SecretVersion{}, ErrSecretNotFound
	}
	return v, nil
}

func (f *fakeSecrets) put(id, version, value string) {
	if f.byID == nil {
		f.byID = map[string]SecretVersion{}
	}
	f.byID[id] = SecretVersion{Name: id, VersionID: version, Stages: []string{StageCurrent}, Value: NewPassword(value)}
}

// fakeAccounts keeps accounts in memory; the "hash" is a salted digest that
// changes on every SetPassword, like a real one.
type fakeAccounts struct {
	sys       System
	accounts  map[string]*fakeAccount
	salt      int
	setErr    error
	createErr error
	removeErr error // returned by RemoveAging
	// removeKeeps makes RemoveAging succeed and change nothing.
	removeKeeps bool
	calls       []string // method names, in order
}

// noAging is what useradd leaves with PASS_MAX_DAYS=-1, --inactive -1 and
// no expiry date.
var noAging = Aging{LastChange: 20790, MinDays: 0, MaxDays: -1, WarnDays: 7, Inactive: -1, Expire: -1}

type fakeAccount struct {
	acct Account
	pw   string
}

func newFakeAccounts() *fakeAccounts {
	return &fakeAccounts{
		sys: System{UIDMin: 1000, UIDMax: 60000, EncryptMethod: "SHA512", Groups: []string{"root", "daemon", "sudo", "adm"}, Shells: []string{"/bin/sh", "/bin/bash"}},
		accounts: map[string]*fakeAccount{
			"root":   {acct: Account{Name: "root", UID: 0, Locked: true}},
			"daemon": {acct: Account{Name: "daemon", UID: 1, Locked: true}},
			"nobody": {acct: Account{Name: "nobody", UID: 65534, Locked: true}},
		},
	}
}

func (f *fakeAccounts) System(context.Context) (System, error) { return f.sys, nil }

func (f *fakeAccounts) Lookup(_ context.Context, name string) (Account, bool, error) {
	a, ok := f.accounts[name]
	if !ok {
		return Account{}, false, nil
	}
	return a.acct, true, nil
}

func (f *fakeAccounts) Create(_ context.Context, spec AccountSpec) error {
	f.calls = append(f.calls, "Create")
	if f.createErr != nil {
		return f.createErr
	}
	aging := noAging
	f.accounts[spec.Name] = &fakeAccount{acct: Account{Name: spec.Name, UID: 1000 + len(f.accounts), Groups: slices.Clone(spec.Groups), Shell: spec.Shell, Locked: true, Fingerprint: "locked", Aging: &aging}}
	return nil
}

func (f *fakeAccounts) RemoveAging(_ context.Context, name string) error {
	f.calls = append(f.calls, "RemoveAging")
	if f.removeErr != nil {
		return f.removeErr
	}
	if a := f.accounts[name]; a != nil && !f.removeKeeps {
		aging := noAging
		a.acct.Aging = &aging
	}
	return nil
}

func (f *fakeAccounts) AddGroups(_ context.Context, name string, groups []string) error {
	f.calls = append(f.calls, "AddGroups")
	a := f.accounts[name]
	a.acct.Groups = append(a.acct.Groups, groups...)
	return nil
}

func (f *fakeAccounts) SetPassword(_ context.Context, name string, pw Password) error {
	f.calls = append(f.calls, "SetPassword")
	if f.setErr != nil {
		return f.setErr
	}
	f.salt++
	sum := sha256.Sum256([]byte(string(rune(f.salt)) + string(pw.Reveal())))
	a := f.accounts[name]
	a.pw = string(pw.Reveal())
	a.acct.Locked = false
	a.acct.Fingerprint = hex.EncodeToString(sum[:])
	return nil
}

func (f *fakeAccounts) Lock(_ context.Context, name string) error {
	f.calls = append(f.calls, "Lock")
	f.accounts[name].acct.Locked = true
	return nil
}

func (f *fakeAccounts) Delete(_ context.Context, name string) error {
	f.calls = append(f.calls, "Delete")
	delete(f.accounts, name)
	return nil
}

type fakeReporter struct {
	reports []map[string]string
	err     error
}

func (f *fakeReporter) Report(_ context.Context, instanceID string, tags map[string]string) error {
	if f.err != nil {
		return f.err
	}
	f.reports = append(f.reports, tags)
	return nil
}

type memState struct {
	s     State
	saves int
}

func (m *memState) Load() (State, error) { return m.s, nil }
func (m *memState) Save(s State) error   { m.s = s; m.saves++; return nil }

type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time { return c.now }
func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.now = c.now.Add(d)
	return nil
}

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
