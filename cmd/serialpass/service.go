package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kardianos/service"

	"github.com/serialpass/serialpass/systemd"
)

// Service control, for installs from a tarball. The deb and rpm packages
// install the unit themselves and never call these.
const serviceName = "serialpass"

// packagedUnits are where the deb and rpm packages put the unit; install
// refuses to shadow them with a copy in /etc/systemd/system.
var packagedUnits = []string{
	"/usr/lib/systemd/system/" + serviceName + ".service",
	"/lib/systemd/system/" + serviceName + ".service",
}

var serviceHelp = map[string]string{
	"install": `Install serialpass as a systemd service from a tarball: write the project's
hardened unit (the same text the packages install) to
/etc/systemd/system/serialpass.service and enable it; then run
'serialpass start'. The unit runs /usr/bin/serialpass, so copy this binary
there first. Refused when a package already installed the unit.`,
	"uninstall":      "Stop and disable the service, and remove the unit that 'serialpass install' wrote.",
	"start":          "Start the serialpass service (systemctl start serialpass).",
	"stop":           "Stop the serialpass service (systemctl stop serialpass).",
	"restart":        "Restart the serialpass service (systemctl restart serialpass).",
	"service-status": "Print whether the serialpass service is running. Exit status: 0 running,\n3 stopped, 4 not installed or unknown (as LSB init scripts do).",
}

// Exit codes of service-status.
const (
	exitStopped = 3
	exitUnknown = 4
)

func serviceAction(action string) func(context.Context, []string, io.Writer, io.Writer) int {
	return func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
		name := action
		if action == "status" {
			name = "service-status"
		}
		fs := newFlagSet(name, serviceHelp[name], stderr)
		if code, done := parseFlags(fs, args, stdout); done {
			return code
		}
		svc, err := newService(newProgram(func(ctx context.Context) error {
			return runDaemon(ctx, defaultOptions(), nil, nopNotifier{}, stderr)
		}))
		if err != nil {
			fmt.Fprintf(stderr, "serialpass %s: %v\n", name, err)
			if action == "status" {
				return exitUnknown
			}
			return 1
		}
		if action == "status" {
			return printServiceStatus(svc, stdout, stderr)
		}
		if err := control(svc, action, packagedUnits); err != nil {
			fmt.Fprintf(stderr, "serialpass %s: %v\n", name, err)
			return 1
		}
		switch action {
		case "install":
			fmt.Fprintln(stdout, "installed and enabled serialpass.service; start it with: serialpass start")
		case "uninstall":
			fmt.Fprintln(stdout, "removed serialpass.service")
		}
		return 0
	}
}

// control runs one kardianos action, with serialpass's own checks.
func control(svc service.Service, action string, packaged []string) error {
	switch action {
	case "install":
		if err := checkInstall(packaged); err != nil {
			return err
		}
		if err := svc.Install(); err != nil {
			return fmt.Errorf("installing the service: %w", err)
		}
	case "uninstall":
		if st, err := svc.Status(); err == nil && st == service.StatusRunning {
			if err := svc.Stop(); err != nil {
				return fmt.Errorf("stopping the service: %w", err)
			}
		}
		if err := svc.Uninstall(); err != nil {
			return fmt.Errorf("removing the service: %w", err)
		}
	default:
		if err := service.Control(svc, action); err != nil {
			return fmt.Errorf("%s: %w", action, err)
		}
	}
	return nil
}

func printServiceStatus(svc service.Service, stdout, stderr io.Writer) int {
	st, err := svc.Status()
	switch {
	case errors.Is(err, service.ErrNotInstalled):
		fmt.Fprintln(stdout, "not installed")
		return exitUnknown
	case err != nil:
		fmt.Fprintf(stderr, "serialpass service-status: %v\n", err)
		return exitUnknown
	case st == service.StatusRunning:
		fmt.Fprintln(stdout, "running")
		return 0
	case st == service.StatusStopped:
		fmt.Fprintln(stdout, "stopped")
		return exitStopped
	default:
		fmt.Fprintln(stdout, "unknown")
		return exitUnknown
	}
}

// newService returns the kardianos service for serialpass. Only systemd is
// supported: the unit is the one thing we hand over.
func newService(p *program) (service.Service, error) {
	cfg, err := serviceConfig()
	if err != nil {
		return nil, err
	}
	svc, err := service.New(p, cfg)
	if err != nil {
		return nil, fmt.Errorf("finding the service manager: %w", err)
	}
	if svc.Platform() != "linux-systemd" {
		return nil, fmt.Errorf("service control needs systemd, this system uses %s", svc.Platform())
	}
	return svc, nil
}

// serviceConfig hands kardianos the project's unit instead of its generic
// template. kardianos renders SystemdScript with its own template engine;
// the unit holds no "{{", so it is written verbatim.
func serviceConfig() (*service.Config, error) {
	argv, err := unitExecStart(systemd.Unit)
	if err != nil {
		return nil, err
	}
	return &service.Config{
		Name:        serviceName,
		DisplayName: serviceName,
		Description: "serialpass: EC2 Serial Console password from AWS Secrets Manager",
		Executable:  argv[0],
		Arguments:   argv[1:],
		Option:      service.KeyValue{"SystemdScript": systemd.Unit},
	}, nil
}

// unitExecStart returns the argv of the unit's ExecStart=.
func unitExecStart(unit string) ([]string, error) {
	if strings.Contains(unit, "{{") {
		return nil, errors.New(`the embedded unit contains "{{", which kardianos would read as a template action`)
	}
	for line := range strings.Lines(unit) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "ExecStart="); ok {
			if argv := strings.Fields(v); len(argv) > 0 && filepath.IsAbs(argv[0]) {
				return argv, nil
			}
		}
	}
	return nil, errors.New("the embedded unit has no ExecStart= with an absolute path")
}

// checkInstall refuses to install over a packaged unit or a unit that would
// run some other binary than this one.
func checkInstall(packaged []string) error {
	for _, p := range packaged {
		if _, err := os.Stat(p); err == nil {
			return fmt.Errorf("a package installed %s: manage it with systemctl, not serialpass install", p)
		}
	}
	argv, err := unitExecStart(systemd.Unit)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding this executable: %w", err)
	}
	return sameFile(self, argv[0])
}

// sameFile reports an error unless self and want are one file.
func sameFile(self, want string) error {
	hint := fmt.Sprintf("the unit runs %s: copy this binary there first (install -m 0755 %s %s)", want, self, want)
	wi, err := os.Stat(want)
	if err != nil {
		return fmt.Errorf("%s: %w", hint, err)
	}
	si, err := os.Stat(self)
	if err != nil {
		return fmt.Errorf("finding this executable: %w", err)
	}
	if !os.SameFile(si, wi) {
		return errors.New(hint)
	}
	return nil
}

// defaultOptions are the common flags' defaults, as the unit runs them.
func defaultOptions() *commonOptions {
	return addCommonFlags(flag.NewFlagSet("defaults", flag.ContinueOnError))
}

// nopNotifier tells nobody.
type nopNotifier struct{}

func (nopNotifier) Notify(string) error { return nil }

// program is the kardianos Interface, after google_guest_agent's: Start
// runs the daemon in a goroutine on a context of its own, Stop cancels it
// and waits a bounded time. kardianos calls them only from Service.Run,
// which `serialpass run` does not use (systemd runs it directly).
type program struct {
	run     func(context.Context) error
	timeout time.Duration
	cancel  context.CancelFunc
	done    chan struct{}
	err     error
}

func newProgram(run func(context.Context) error) *program {
	return &program{run: run, timeout: 10 * time.Second}
}

func (p *program) Start(service.Service) error {
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel, p.done = cancel, make(chan struct{})
	go func() {
		defer close(p.done)
		p.err = p.run(ctx)
	}()
	return nil
}

func (p *program) Stop(service.Service) error {
	if p.cancel == nil {
		return nil
	}
	p.cancel()
	t := time.NewTimer(p.timeout)
	defer t.Stop()
	select {
	case <-p.done:
		return p.err
	case <-t.C:
		return fmt.Errorf("the daemon did not stop within %s", p.timeout)
	}
}
