package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kardianos/service"

	"github.com/serialpass/serialpass/systemd"
)

func TestCommandHelp(t *testing.T) {
	want := []string{"run", "install", "uninstall", "start", "stop", "restart", "service-status"}
	var names []string
	for _, c := range commands() {
		names = append(names, c.name)
	}
	for _, name := range want {
		t.Run(name, func(t *testing.T) {
			if !slices.Contains(names, name) {
				t.Fatalf("command %q missing from the table %v", name, names)
			}
			for _, flag := range []string{"-h", "--help"} {
				var stdout, stderr bytes.Buffer
				if code := dispatch(context.Background(), []string{name, flag}, &stdout, &stderr); code != 0 {
					t.Errorf("%s %s exit %d, want 0; stderr %q", name, flag, code, stderr.String())
				}
				if !strings.HasPrefix(stdout.String(), "Usage: serialpass "+name+" ") {
					t.Errorf("%s %s printed %q, want its usage", name, flag, stdout.String())
				}
				if stderr.Len() != 0 {
					t.Errorf("%s %s wrote to stderr: %q", name, flag, stderr.String())
				}
			}
		})
	}
	t.Run("usage lists them", func(t *testing.T) {
		var out bytes.Buffer
		usage(&out)
		for _, name := range want {
			if !strings.Contains(out.String(), "\n  "+name+" ") {
				t.Errorf("usage does not list %q:\n%s", name, out.String())
			}
		}
	})
	t.Run("stray argument", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		if code := dispatch(context.Background(), []string{"install", "now"}, &stdout, &stderr); code != 2 {
			t.Errorf("install now: exit %d, want 2", code)
		}
	})
}

func TestServiceConfig(t *testing.T) {
	cfg, err := serviceConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Name != "serialpass" {
		t.Errorf("Name = %q", cfg.Name)
	}
	if got := cfg.Option["SystemdScript"]; got != systemd.Unit {
		t.Errorf("SystemdScript is not the embedded unit: %q", got)
	}
	if cfg.Executable != "/usr/bin/serialpass" || !slices.Equal(cfg.Arguments, []string{"run"}) {
		t.Errorf("Executable, Arguments = %q, %q; want the unit's ExecStart", cfg.Executable, cfg.Arguments)
	}
}

func TestUnitExecStart(t *testing.T) {
	for _, tc := range []struct {
		name, unit string
		want       []string
		wantErr    bool
	}{
		{"plain", "[Service]\nType=notify\nExecStart=/usr/bin/serialpass run\n", []string{"/usr/bin/serialpass", "run"}, false},
		{"indented", "[Service]\n  ExecStart=/opt/sp run -v\n", []string{"/opt/sp", "run", "-v"}, false},
		{"template braces", "[Service]\nExecStart=/usr/bin/serialpass run\nDescription={{Name}}\n", nil, true},
		{"relative path", "[Service]\nExecStart=serialpass run\n", nil, true},
		{"none", "[Service]\nType=notify\n", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := unitExecStart(tc.unit)
			if (err != nil) != tc.wantErr || !slices.Equal(got, tc.want) {
				t.Errorf("unitExecStart = %q, %v; want %q, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

// TestInstallWritesOurUnit lets kardianos render and write the unit as
// `serialpass install` would, but as a user service under a temporary HOME
// and with no systemctl on PATH: the file is written, then enabling fails,
// and nothing on this machine is touched.
func TestInstallWritesOurUnit(t *testing.T) {
	var sys service.System
	for _, s := range service.AvailableSystems() {
		if s.String() == "linux-systemd" {
			sys = s
		}
	}
	if sys == nil {
		t.Fatal("kardianos/service has no linux-systemd backend")
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("PATH", t.TempDir()) // no systemctl: Install stops after writing
	cfg, err := serviceConfig()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Option["UserService"] = true
	svc, err := sys.New(newProgram(nil), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Install(); err == nil {
		t.Fatal("Install succeeded without systemctl: it may have reached a real service manager")
	}
	got, err := os.ReadFile(filepath.Join(home, ".config/systemd/user/serialpass.service"))
	if err != nil {
		t.Fatalf("kardianos wrote no unit: %v", err)
	}
	if string(got) != systemd.Unit {
		t.Errorf("kardianos wrote a different unit than systemd/serialpass.service:\n%s", got)
	}
}

func TestCheckInstall(t *testing.T) {
	dir := t.TempDir()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(self, link); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other")
	if err := os.WriteFile(other, []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, want, errPart string
	}{
		{"same file", self, ""},
		{"through a symlink", link, ""},
		{"another binary", other, "copy this binary there first"},
		{"missing", filepath.Join(dir, "missing"), "copy this binary there first"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := sameFile(self, tc.want)
			if tc.errPart == "" && err != nil || tc.errPart != "" && (err == nil || !strings.Contains(err.Error(), tc.errPart)) {
				t.Errorf("sameFile = %v, want error containing %q", err, tc.errPart)
			}
		})
	}
	t.Run("packaged unit present", func(t *testing.T) {
		unit := filepath.Join(dir, "serialpass.service")
		if err := os.WriteFile(unit, []byte(systemd.Unit), 0o644); err != nil {
			t.Fatal(err)
		}
		err := checkInstall([]string{filepath.Join(dir, "absent"), unit})
		if err == nil || !strings.Contains(err.Error(), "manage it with systemctl") {
			t.Errorf("checkInstall = %v, want a refusal naming the packaged unit", err)
		}
	})
}

func TestProgram(t *testing.T) {
	t.Run("stop cancels and waits", func(t *testing.T) {
		stopped := make(chan struct{})
		p := newProgram(func(ctx context.Context) error {
			<-ctx.Done()
			close(stopped)
			return nil
		})
		if err := p.Start(nil); err != nil {
			t.Fatal(err)
		}
		if err := p.Stop(nil); err != nil {
			t.Fatalf("Stop = %v", err)
		}
		select {
		case <-stopped:
		default:
			t.Error("Stop returned before the daemon did")
		}
	})
	t.Run("stop passes the daemon's error", func(t *testing.T) {
		boom := errors.New("boom")
		p := newProgram(func(ctx context.Context) error { <-ctx.Done(); return boom })
		_ = p.Start(nil)
		if err := p.Stop(nil); !errors.Is(err, boom) {
			t.Errorf("Stop = %v, want %v", err, boom)
		}
	})
	t.Run("stop is bounded", func(t *testing.T) {
		block := make(chan struct{})
		defer close(block)
		p := newProgram(func(context.Context) error { <-block; return nil })
		p.timeout = 20 * time.Millisecond
		_ = p.Start(nil)
		if err := p.Stop(nil); err == nil {
			t.Error("Stop of a daemon that ignores cancellation returned nil")
		}
	})
	t.Run("stop before start", func(t *testing.T) {
		if err := newProgram(nil).Stop(nil); err != nil {
			t.Errorf("Stop = %v", err)
		}
	})
}
