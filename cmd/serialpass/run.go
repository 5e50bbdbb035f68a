package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/serialpass/serialpass/agent"
	"github.com/serialpass/serialpass/agent/daemon"
)

const runSummary = `Run as a daemon: one pass at start, then one every interval (config key,
default 15m, with ±10% jitter); errors are retried with exponential backoff
capped at the interval, throttling with a random delay from a window that
starts at 8 s and doubles; a throttled report is retried alone. SIGHUP runs a pass now. SIGTERM or SIGINT lets a pass
in flight finish its write, then exits within 10 s. Under systemd
(Type=notify) it sends READY=1 after the first pass, whatever its outcome, and
a one-line STATUS= after each pass.`

func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("run", runSummary, stderr)
	opts := addCommonFlags(fs)
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	// main's context already ends on SIGTERM and SIGINT; SIGHUP wakes.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	if err := runDaemon(ctx, opts, wakeOn(ctx, hup), daemon.Systemd{}, stderr); err != nil {
		fmt.Fprintf(stderr, "serialpass run: %v\n", err)
		return 1
	}
	return 0
}

// runDaemon builds the agent and runs passes until ctx ends. It returns nil
// when stopped, also when stopped while still waiting for instance metadata.
func runDaemon(ctx context.Context, opts *commonOptions, wake <-chan struct{}, n daemon.Notifier, stderr io.Writer) error {
	a, cfg, err := buildAgent(ctx, opts, stderr)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		// Let boot go on, and show why in `systemctl status`; systemd
		// restarts the service (Restart=on-failure).
		_ = n.Notify("READY=1\nSTATUS=error: " + agent.Reason(err))
		return err
	}
	log := a.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(stderr, nil))
	}
	// The daemon sleeps for most of its life: after each attempt the heap
	// it used goes back to the OS (a GC and a scavenge, a few ms every
	// interval), so that it idles small.
	idle := func(attempt func(context.Context) agent.Result) func(context.Context) agent.Result {
		return func(ctx context.Context) agent.Result {
			res := attempt(ctx)
			debug.FreeOSMemory()
			return res
		}
	}
	loop := &daemon.Loop{
		Pass:      idle(a.Pass),
		Report:    idle(a.RetryReport),
		Interval:  cfg.Interval.D(),
		Clock:     agent.SystemClock{},
		Notifier:  n,
		Log:       log,
		Wake:      wake,
		SecretTag: cfg.TagPrefix + agent.TagSecret,
	}
	return loop.Run(ctx)
}

// wakeOn turns signals into wake-ups until ctx ends. Wake-ups that arrive
// while one is pending collapse into it.
func wakeOn(ctx context.Context, sig <-chan os.Signal) <-chan struct{} {
	wake := make(chan struct{}, 1)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-sig:
				select {
				case wake <- struct{}{}:
				default:
				}
			}
		}
	}()
	return wake
}
