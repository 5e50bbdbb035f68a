// Package console makes the serial console usable and keeps the managed
// user's password there: login only on the serial port (pam_access and an
// sshd drop-in), the kernel console and the serial getty, a check that the
// applied password authenticates, and a secret-free banner. It edits files
// under a root directory and runs programs only through an agent.Runner; it
// knows nothing of AWS.
package console

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/serialpass/serialpass/agent"
)

// Console works on one root directory ("/" for the running system).
type Console struct {
	// Root is the system being configured.
	Root string
	// Run runs sshd, systemctl, unix_chkpwd and perl.
	Run agent.Runner
	// ConsolePath is where Banner writes its line. Empty: /dev/console,
	// or <root>/var/log/serialpass/console.log under another root.
	ConsolePath string
	// CmdlinePath is the running kernel's command line (/proc/cmdline when
	// empty); it is read only when Root is "/".
	CmdlinePath string

	// liveRoot makes tests treat a sandbox Root as the running system.
	liveRoot bool
}

// New returns a Console for root that runs programs through run.
func New(root string, run agent.Runner) *Console {
	if root == "" {
		root = "/"
	}
	if abs, err := filepath.Abs(root); err == nil {
		root = abs
	}
	return &Console{Root: filepath.Clean(root), Run: run}
}

// live reports whether we configure the running system (services may be
// reloaded) rather than an image.
func (c *Console) live() bool { return c.Root == "/" || c.liveRoot }

// path returns rel (slash-separated, relative to /) under the root.
func (c *Console) path(rel string) string { return filepath.Join(c.Root, filepath.FromSlash(rel)) }

// read returns the file's content, or nil and false when it does not exist.
func (c *Console) read(rel string) ([]byte, bool, error) {
	data, err := os.ReadFile(c.path(rel))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("reading /%s: %w", rel, err)
	}
	return data, true, nil
}

// write replaces the file atomically, keeping the mode of the file it
// replaces (mode for a new file).
func (c *Console) write(rel string, data []byte, mode fs.FileMode) error {
	p := c.path(rel)
	if fi, err := os.Stat(p); err == nil {
		mode = fi.Mode().Perm()
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("writing /%s: %w", rel, err)
	}
	if err := agent.WriteFileAtomic(p, data, mode); err != nil {
		return fmt.Errorf("writing /%s: %w", rel, err)
	}
	return nil
}

// remove deletes the file; a missing file is fine.
func (c *Console) remove(rel string) (bool, error) {
	err := os.Remove(c.path(rel))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("removing /%s: %w", rel, err)
	}
	return true, nil
}

// exists reports whether rel exists under the root (without following a
// final symbolic link).
func (c *Console) exists(rel string) bool {
	_, err := os.Lstat(c.path(rel))
	return err == nil
}

// Apply brings the console in line with o for user: console-only login
// (or its removal when turned off), the kernel console, the serial getty.
// Warnings are things an operator should know that do not stop the
// console from working; the error (one per problem, joined) is what keeps
// it from working, worded to be the status reason.
func (c *Console) Apply(ctx context.Context, user string, o Options) (warnings []string, err error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if err := agent.ValidUserName(user); err != nil {
		return nil, fmt.Errorf("user %q: %w", user, err)
	}
	var errs []error
	if o.OnlyConsole() {
		w, err := c.ApplyConsoleOnly(ctx, user, o)
		warnings = append(warnings, w...)
		errs = append(errs, err)
	} else {
		w, err := c.RemoveConsoleOnly(ctx)
		warnings = append(warnings, w...)
		errs = append(errs, err)
	}
	kw, kernelOK, err := c.applyKernel(o)
	warnings = append(warnings, kw...)
	errs = append(errs, err)
	gw, err := c.applyGetty(ctx, o, kernelOK)
	warnings = append(warnings, gw...)
	errs = append(errs, err)
	return warnings, errors.Join(errs...)
}

// Remove takes out everything serialpass added: the console-only lines,
// the issue file and what fix_console added to the GRUB defaults; what
// package removal must undo. The getty stays: it makes the console work
// for everyone.
func (c *Console) Remove(ctx context.Context) (warnings []string, err error) {
	warnings, err = c.RemoveConsoleOnly(ctx)
	if _, rerr := c.remove(IssuePath); rerr != nil {
		err = errors.Join(err, rerr)
	}
	kw, kerr := c.RemoveKernelFix()
	return append(warnings, kw...), errors.Join(err, kerr)
}

// readAbs reads an absolute host path (such as /proc/cmdline).
func (c *Console) readAbs(p string) ([]byte, bool, error) {
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("reading %s: %w", p, err)
	}
	return data, true, nil
}
