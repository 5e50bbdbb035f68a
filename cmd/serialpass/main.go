// Command serialpass makes the EC2 Serial Console usable: it sets the
// password of a dedicated OS user from AWS Secrets Manager, as the instance's
// tags ask, and reports back to the tags.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

// command is one subcommand of the CLI.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

// commands lists the subcommands; each lives in its own file.
func commands() []command {
	return []command{
		{"once", "run one pass and exit (0 when ready or disabled)", runOnce},
		{"run", "run as a daemon: a pass now, then one per interval; SIGHUP runs one now", runRun},
		{"rotate", "rotate the password now (rotate mode)", runRotate},
		{"install", "install and enable the systemd unit (tarball installs; packages do it themselves)", serviceAction("install")},
		{"uninstall", "stop, disable and remove the unit that install wrote", serviceAction("uninstall")},
		{"start", "start the serialpass service", serviceAction("start")},
		{"stop", "stop the serialpass service", serviceAction("stop")},
		{"restart", "restart the serialpass service", serviceAction("restart")},
		{"service-status", "tell whether the service runs (exit 0 running, 3 stopped, 4 not installed)", serviceAction("status")},
		{"status", "show the last pass from the state file (--json)", runStatus},
		{"doctor", "check every prerequisite of a serial-console login (--json)", runDoctor},
		{"cleanup", "remove serialpass's console-only lines and issue file (package removal runs it)", runCleanup},
		{"version", "print the version", runVersion},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := dispatch(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "serialpass: unknown command %q (see serialpass --help)\n", args[0])
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: serialpass COMMAND [flags]")
	fmt.Fprintln(w, "\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-15s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'serialpass COMMAND --help' for a command's flags.")
}

func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("version", "print the version", stderr)
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	fmt.Fprintf(stdout, "serialpass %s\n", version)
	return 0
}
