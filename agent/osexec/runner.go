// Package osexec runs programs for the agent with os/exec: argv only, never
// a shell, a clean environment, and bounded waits.
package osexec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// SearchPath is where bare program names are looked up, in the child's
// PATH and when resolving argv[0].
const SearchPath = "/usr/sbin:/usr/bin:/sbin:/bin"

// Defaults used when the Runner's fields are zero.
const (
	DefaultTimeout   = 2 * time.Minute
	DefaultWaitDelay = 5 * time.Second
	// maxStderr bounds the stderr quoted in an error, in bytes.
	maxStderr = 400
)

// Runner implements agent.Runner with os/exec. The zero value is ready to
// use.
type Runner struct {
	// Timeout bounds one run, on top of the caller's context
	// (DefaultTimeout when zero).
	Timeout time.Duration
	// WaitDelay is how long Wait waits for the child's pipes to close
	// after it was killed or exited (DefaultWaitDelay when zero), so a
	// descendant that keeps stdout open cannot hang us.
	WaitDelay time.Duration
}

// Run runs argv[0] with the arguments argv[1:], feeding stdin (which may be
// nil) and returning stdout. On failure the error names the program and
// carries the start of its stderr. The child runs in its own process
// group, which is killed as a whole when ctx ends or the timeout passes.
func (r Runner) Run(ctx context.Context, stdin io.Reader, argv ...string) ([]byte, error) {
	if len(argv) == 0 || argv[0] == "" {
		return nil, errors.New("running: empty argv")
	}
	path, err := lookPath(argv[0])
	if err != nil {
		return nil, fmt.Errorf("running %s: %w", argv[0], err)
	}
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	cmd := exec.CommandContext(ctx, path, argv[1:]...)
	cmd.Args[0] = argv[0]
	cmd.Env = []string{"PATH=" + SearchPath, "LANG=C"} // nothing inherited
	cmd.Dir = "/"
	cmd.Stdin = stdin
	var stdout bytes.Buffer
	stderr := &clipBuffer{max: maxStderr}
	cmd.Stdout = &stdout
	cmd.Stderr = stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// Kill the whole group: helpers the child spawned go too.
		if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil {
			return cmd.Process.Kill()
		}
		return nil
	}
	cmd.WaitDelay = r.WaitDelay
	if cmd.WaitDelay <= 0 {
		cmd.WaitDelay = DefaultWaitDelay
	}
	if err := cmd.Run(); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			err = fmt.Errorf("%w (%w)", err, ctxErr)
		}
		return stdout.Bytes(), fmt.Errorf("running %s: %w: %s", argv[0], err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// lookPath resolves name against SearchPath, not against our own PATH, so
// the program run does not depend on the environment we were started with.
func lookPath(name string) (string, error) {
	if strings.Contains(name, "/") {
		if !filepath.IsAbs(name) {
			return "", errors.New("relative program path")
		}
		return name, executable(name)
	}
	for _, dir := range filepath.SplitList(SearchPath) {
		p := filepath.Join(dir, name)
		if executable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w in %s", exec.ErrNotFound, SearchPath)
}

func executable(p string) error {
	fi, err := os.Stat(p)
	switch {
	case err != nil:
		return err
	case !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0:
		return fmt.Errorf("%s: not an executable file", p)
	}
	return nil
}

// clipBuffer keeps the first max bytes written to it and discards the
// rest, noting that it did.
type clipBuffer struct {
	buf     bytes.Buffer
	max     int
	clipped bool
}

func (c *clipBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if room := max(c.max-c.buf.Len(), 0); n > room {
		c.clipped = true
		p = p[:room]
	}
	c.buf.Write(p)
	return n, nil
}

func (c *clipBuffer) String() string {
	if c.clipped {
		return c.buf.String() + "..."
	}
	return c.buf.String()
}
