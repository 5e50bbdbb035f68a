package main

import (
	"context"
	"fmt"
	"io"

	"github.com/serialpass/serialpass/agent"
	"github.com/serialpass/serialpass/agent/console"
	"github.com/serialpass/serialpass/agent/osexec"
)

const cleanupSummary = `Take out what serialpass added: for console-only login its marked block in
/etc/security/access.conf, the pam_access line it enabled and the sshd
drop-in; the issue file; and the serial console that fix_console added to
the GRUB defaults (its drop-in in /etc/default/grub.d, or its block in
/etc/default/grub). The running kernel keeps its console until update-grub
(grub2-mkconfig) and a reboot. Package removal runs it. The managed user,
its password and a serial getty that enable_getty enabled stay.`

func runCleanup(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("cleanup", cleanupSummary, stderr)
	root := fs.String("root", "/", "work under this directory instead of the running system")
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	warnings, err := console.New(*root, osexec.Runner{}).Remove(ctx)
	for _, w := range warnings {
		fmt.Fprintf(stderr, "serialpass cleanup: warning: %s\n", w)
	}
	if err != nil {
		fmt.Fprintf(stderr, "serialpass cleanup: %s\n", agent.Reason(err))
		return 1
	}
	return 0
}
