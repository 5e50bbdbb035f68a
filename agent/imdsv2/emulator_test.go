package imdsv2

// The adapter over the real SDK client against our emulator: faults, tag
// changes, token expiry and the calls a steady pass makes.

import (
	"errors"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/serialpass/serialpass/agent"
	"github.com/serialpass/serialpass/internal/imdsemu"
)

// fakeClock is the emulator's clock, moved by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func startEmu(t *testing.T, opts imdsemu.Options) (*imdsemu.Server, *Source) {
	t.Helper()
	emu := imdsemu.New(opts)
	if err := emu.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = emu.Close() })
	isolateSDK(t, emu.URL())
	return emu, New(loadConfig(t))
}

const secretKey = "serialpass:secret"

func TestAdapterAgainstEmulator(t *testing.T) {
	tags := map[string]string{secretKey: "s1", "Name": "web", "serialpass:status": "ready"}
	tests := []struct {
		name    string
		fault   func(*imdsemu.Server)
		want    map[string]string
		wantErr error
		maxTime time.Duration
	}{
		{name: "healthy", want: map[string]string{secretKey: "s1"}},
		{
			name:    "refused connection fails fast as unreachable",
			fault:   func(e *imdsemu.Server) { mustRefuse(t, e) },
			wantErr: agent.ErrUnreachable,
			maxTime: time.Second,
		},
		{
			name:  "two 500s are absorbed by the SDK's retries",
			fault: func(e *imdsemu.Server) { e.FailNext(2) },
			want:  map[string]string{secretKey: "s1"},
		},
		{
			name:    "lasting 500s are unreachable",
			fault:   func(e *imdsemu.Server) { e.FailFor(time.Minute) },
			wantErr: agent.ErrUnreachable,
			maxTime: time.Second,
		},
		{
			name:    "answers slower than the SDK's header timeout are unreachable",
			fault:   func(e *imdsemu.Server) { e.SetDelay(2 * time.Second) },
			wantErr: agent.ErrUnreachable,
			maxTime: 3 * time.Second,
		},
		{
			name:    "tags disabled",
			fault:   func(e *imdsemu.Server) { e.DisableTags() },
			wantErr: agent.ErrTagsDisabled,
		},
		{
			name:    "tags enabled but none",
			fault:   func(e *imdsemu.Server) { e.SetTags(nil) },
			wantErr: agent.ErrTagsDisabled,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			emu, src := startEmu(t, imdsemu.Options{Tags: tags})
			if tt.fault != nil {
				tt.fault(emu)
			}
			start := time.Now()
			got, err := src.Tags(t.Context(), "serialpass:")
			elapsed := time.Since(start)
			if tt.maxTime > 0 && elapsed > tt.maxTime {
				t.Errorf("Tags took %v, want at most %v", elapsed, tt.maxTime)
			}
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Tags() = %v, %v; want an error wrapping %v", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Tags() error = %v", err)
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("Tags() = %v, want %v", got, tt.want)
			}
		})
	}
}

func mustRefuse(t *testing.T, e *imdsemu.Server) {
	t.Helper()
	if err := e.Refuse(); err != nil {
		t.Fatal(err)
	}
}

func TestAdapterRecoversAfterRefusal(t *testing.T) {
	emu, src := startEmu(t, imdsemu.Options{Tags: map[string]string{secretKey: "s1"}})
	mustRefuse(t, emu)
	for i := range 3 { // the boot loop calls again and again
		if _, err := src.Identity(t.Context()); !errors.Is(err, agent.ErrUnreachable) {
			t.Fatalf("call %d while refused: %v, want ErrUnreachable", i, err)
		}
	}
	if err := emu.Resume(); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Identity(t.Context()); err != nil {
		t.Fatalf("Identity after Resume: %v", err)
	}
	if got, err := src.Tags(t.Context(), "serialpass:"); err != nil || got[secretKey] != "s1" {
		t.Fatalf("Tags after Resume = %v, %v", got, err)
	}
}

func TestSteadyPassCalls(t *testing.T) {
	emu, src := startEmu(t, imdsemu.Options{Tags: map[string]string{
		secretKey: "s1", "serialpass:user": "ops", "Name": "web", "serialpass:status": "ready",
		"serialpass:status:version": "v1",
	}})
	if _, err := src.Tags(t.Context(), "serialpass:"); err != nil {
		t.Fatal(err)
	}
	first := emu.Counts()
	if first["PUT /latest/api/token"] != 1 {
		t.Errorf("first pass token requests = %d, want 1 (counts %v)", first["PUT /latest/api/token"], first)
	}
	emu.Reset()
	if _, err := src.Tags(t.Context(), "serialpass:"); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{
		"GET /latest/meta-data/tags/instance":                   1,
		"GET /latest/meta-data/tags/instance/serialpass:secret": 1,
		"GET /latest/meta-data/tags/instance/serialpass:user":   1,
	}
	if got := emu.Counts(); !maps.Equal(got, want) {
		t.Errorf("steady pass requests = %v, want %v (token cached, no other key read)", got, want)
	}
}

func TestTagChangesAndTokenExpiry(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	emu, src := startEmu(t, imdsemu.Options{Now: clock.Now, Tags: map[string]string{secretKey: "s1"}})
	steps := []struct {
		name   string
		change func()
		want   map[string]string
	}{
		{"initial", func() {}, map[string]string{secretKey: "s1"}},
		{"value changed", func() { emu.SetTag(secretKey, "s2") }, map[string]string{secretKey: "s2"}},
		{"key added", func() { emu.SetTag("serialpass:user", "ops") }, map[string]string{secretKey: "s2", "serialpass:user": "ops"}},
		{"key deleted", func() { emu.DeleteTag("serialpass:user") }, map[string]string{secretKey: "s2"}},
		// The SDK keeps its token 5 min by the real clock; the emulator's
		// clock says it expired, answers 401, and the SDK gets a new one.
		{"token expired at the server", func() { clock.Advance(6 * time.Minute) }, map[string]string{secretKey: "s2"}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			emu.Reset()
			st.change()
			got, err := src.Tags(t.Context(), "serialpass:")
			if err != nil {
				t.Fatalf("Tags: %v", err)
			}
			if !maps.Equal(got, st.want) {
				t.Errorf("Tags = %v, want %v", got, st.want)
			}
		})
	}
	if n := emu.Counts()["PUT /latest/api/token"]; n != 1 {
		t.Errorf("after expiry: %d token requests, want 1 new token", n)
	}
}
