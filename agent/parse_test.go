package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	cases := []struct {
		name    string
		yaml    string
		wantErr string
		check   func(t *testing.T, c Config)
	}{
		{name: "empty file gives defaults", yaml: "", check: func(t *testing.T, c Config) {
			if c.User != "ec2-serial" || c.TagPrefix != "serialpass:" || c.BootTimeout.D() != 5*time.Minute || c.Interval.D() != 15*time.Minute {
				t.Errorf("defaults = %+v", c)
			}
		}},
		{name: "values override", yaml: "user: ops\nboot_timeout: 30s\ninterval: 2d\ngroups: [wheel]\n", check: func(t *testing.T, c Config) {
			if c.User != "ops" || c.BootTimeout.D() != 30*time.Second || c.Interval.D() != 48*time.Hour || !slices.Equal(c.Groups, []string{"wheel"}) {
				t.Errorf("config = %+v", c)
			}
		}},
		{name: "unknown key", yaml: "usr: ops\n", wantErr: "field usr not found"},
		{name: "bad duration", yaml: "interval: soon\n", wantErr: "invalid duration"},
		{name: "bad user", yaml: "user: Bad Name\n", wantErr: "not a valid name"},
		{name: "bad group", yaml: "allowed_groups: ['a;b']\n", wantErr: "not a valid name"},
		{name: "zero interval", yaml: "interval: 0s\n", wantErr: "interval must be at least 1s"},
		{name: "interval below a second", yaml: "interval: 10ms\n", wantErr: "interval must be at least 1s"},
		{name: "empty tag prefix", yaml: "tag_prefix: ''\n", wantErr: "tag_prefix"},
		{name: "tag prefix with a space", yaml: "tag_prefix: 'my tag:'\n", wantErr: "tag_prefix"},
		{name: "tag prefix with a slash", yaml: "tag_prefix: 'corp/sp:'\n", wantErr: "tag_prefix"},
		{name: "tag prefix aws:", yaml: "tag_prefix: 'AWS:sp:'\n", wantErr: "tag_prefix"},
		{name: "tag prefix allowed characters", yaml: "tag_prefix: 'corp.sp@x+y=z_1-2:'\n", check: func(t *testing.T, c Config) {
			if c.TagPrefix != "corp.sp@x+y=z_1-2:" {
				t.Errorf("prefix = %q", c.TagPrefix)
			}
		}},
		{name: "a second YAML document", yaml: "user: ops\n---\nusr: x\n", wantErr: "more than one YAML document"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig([]byte(tc.yaml))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
	t.Run("missing default file means defaults", func(t *testing.T) {
		c, err := LoadConfig(filepath.Join(t.TempDir(), "none.yaml"), true)
		if err != nil || c.User != "ec2-serial" {
			t.Fatalf("LoadConfig = %+v, %v", c, err)
		}
	})
	t.Run("missing explicit file is an error", func(t *testing.T) {
		if _, err := LoadConfig(filepath.Join(t.TempDir(), "none.yaml"), false); err == nil {
			t.Fatal("no error")
		}
	})
}

func TestParseTags(t *testing.T) {
	cfg := DefaultConfig()
	s, err := ParseTags(map[string]string{
		"Name":                     "web-1",
		"serialpass:secret":        " fleet/console ",
		"serialpass:user":          "ops",
		"serialpass:groups":        "sudo, adm,,sudo",
		"serialpass:colour":        "blue",
		"serialpass:status":        "ready",
		"serialpass:status:reason": "",
	}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s.Secret != "fleet/console" || s.User != "ops" || !slices.Equal(s.Groups, []string{"sudo", "adm"}) {
		t.Errorf("settings = %+v", s)
	}
	if !slices.Equal(s.Unknown, []string{"serialpass:colour"}) {
		t.Errorf("unknown = %v, want only serialpass:colour (status keys are ours)", s.Unknown)
	}
	t.Run("custom prefix", func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.TagPrefix = "acme:console:"
		s, _ := ParseTags(map[string]string{"acme:console:secret": "x", "serialpass:secret": "y"}, cfg)
		if s.Secret != "x" {
			t.Errorf("secret = %q", s.Secret)
		}
	})
}

func TestResolveGroups(t *testing.T) {
	sysSudo := System{Groups: []string{"root", "sudo", "adm", "video"}}
	sysWheel := System{Groups: []string{"root", "wheel"}}
	cases := []struct {
		name    string
		tag     []string
		cfg     Config
		sys     System
		want    []string
		wantErr string
	}{
		{name: "default sudo", sys: sysSudo, want: []string{"sudo"}},
		{name: "default wheel", sys: sysWheel, want: []string{"wheel"}},
		{name: "no admin group", sys: System{Groups: []string{"root"}}, want: nil},
		{name: "tag within allow-list", tag: []string{"sudo"}, sys: sysSudo, want: []string{"sudo"}},
		{name: "tag empty means none", tag: []string{}, sys: sysSudo, want: []string{}},
		{name: "tag off the allow-list", tag: []string{"video"}, sys: sysSudo, wantErr: "not on the allow-list"},
		{name: "config allow-list", tag: []string{"video"}, cfg: Config{AllowedGroups: []string{"video"}}, sys: sysSudo, want: []string{"video"}},
		{name: "config groups need not be allow-listed", cfg: Config{Groups: []string{"adm"}}, sys: sysSudo, want: []string{"adm"}},
		{name: "group missing from root", tag: []string{"ops"}, cfg: Config{AllowedGroups: []string{"ops"}}, sys: sysSudo, wantErr: "does not exist"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ResolveGroups(Settings{Groups: tc.tag}, tc.cfg, tc.sys)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestPasswordRedacts(t *testing.T) {
	pw := NewPassword("hunter2-secret")
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("x", "pw", pw, "v", SecretVersion{Value: pw})
	j, _ := json.Marshal(struct{ P Password }{pw})
	outs := map[string]string{
		"%v": fmt.Sprintf("%v", pw), "%s": fmt.Sprintf("%s", pw), "%q": fmt.Sprintf("%q", pw),
		"%#v": fmt.Sprintf("%#v", pw), "%+v struct": fmt.Sprintf("%+v", SecretVersion{Value: pw}),
		"slog": buf.String(), "json": string(j), "String": pw.String(),
	}
	for name, out := range outs {
		t.Run(name, func(t *testing.T) {
			if strings.Contains(out, "hunter2") {
				t.Errorf("%s leaks: %s", name, out)
			}
		})
	}
	if string(pw.Reveal()) != "hunter2-secret" {
		t.Error("Reveal lost the value")
	}
}

func TestFileState(t *testing.T) {
	root := t.TempDir()
	fs := NewFileState(root)
	if s, err := fs.Load(); err != nil || s != (State{}) {
		t.Fatalf("missing file: %+v, %v", s, err)
	}
	want := State{Applied: Applied{User: "u", VersionID: "v", Fingerprint: "f", Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}}
	if err := fs.Save(want); err != nil {
		t.Fatal(err)
	}
	got, err := fs.Load()
	if err != nil || got != want {
		t.Fatalf("round trip = %+v, %v", got, err)
	}
	fi, err := os.Stat(filepath.Join(root, StatePath))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode = %v, %v", fi.Mode(), err)
	}
	entries, _ := os.ReadDir(filepath.Dir(fs.Path))
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
	os.WriteFile(fs.Path, []byte("{not json"), 0o600)
	if _, err := fs.Load(); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("corrupt file: %v", err)
	}
}

type flakyIdentity struct {
	failures int
	err      error
	calls    int
}

func (f *flakyIdentity) Identity(context.Context) (Identity, error) {
	f.calls++
	if f.calls <= f.failures {
		return Identity{}, f.err
	}
	return Identity{InstanceID: "i-1"}, nil
}

func TestWaitIdentity(t *testing.T) {
	unreachable := fmt.Errorf("dial tcp: connection refused: %w", ErrUnreachable)
	cases := []struct {
		name     string
		src      *flakyIdentity
		timeout  time.Duration
		wantErr  string
		maxSlept time.Duration
	}{
		{name: "answers at once", src: &flakyIdentity{}, timeout: time.Minute},
		{name: "comes back after 2 minutes", src: &flakyIdentity{failures: 70, err: unreachable}, timeout: 5 * time.Minute, maxSlept: 3 * time.Minute},
		{name: "never comes back", src: &flakyIdentity{failures: 1 << 30, err: unreachable}, timeout: time.Minute, wantErr: "unreachable for 1m0s (boot_timeout)"},
		{name: "a refusal is not retried", src: &flakyIdentity{failures: 1, err: errors.New("401")}, timeout: time.Minute, wantErr: "401"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
			clock := &fakeClock{now: start}
			id, err := WaitIdentity(context.Background(), tc.src, tc.timeout, clock, discardLog())
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				if slept := clock.now.Sub(start); slept > tc.timeout {
					t.Errorf("waited %s past the %s timeout", slept, tc.timeout)
				}
				return
			}
			if err != nil || id.InstanceID != "i-1" {
				t.Fatalf("= %+v, %v", id, err)
			}
			if slept := clock.now.Sub(start); tc.maxSlept > 0 && slept > tc.maxSlept {
				t.Errorf("slept %s", slept)
			}
		})
	}
}
