package main

import (
	"context"
	"fmt"
	"io"

	"github.com/serialpass/serialpass/agent"
	"github.com/serialpass/serialpass/agent/console"
	"github.com/serialpass/serialpass/agent/osexec"
	"github.com/serialpass/serialpass/agent/shadow"
)

const cleanupSummary = `Take out what serialpass added: for console-only login its marked block in
/etc/security/access.conf, the pam_access line it enabled and the sshd
drop-in; the issue file; and the serial console that fix_console added to
the GRUB defaults (its drop-in in /etc/default/grub.d, or its block in
/etc/default/grub). The running kernel keeps its console until update-grub
(grub2-mkconfig) and a reboot. Then lock the managed user's password
(usermod --lock): without the console-only lines it would work over SSH
and on every terminal, and nothing would rotate it any more. The account,
its home and a serial getty that enable_getty enabled stay; installing
serialpass again applies the secret, which unlocks it. Package removal runs
this.`

func runCleanup(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("cleanup", cleanupSummary, stderr)
	root := fs.String("root", "/", "work under this directory instead of the running system")
	keep := fs.Bool("keep-password", false, "leave the managed user's password as it is (it then works wherever the user may log in)")
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
	if *keep {
		return 0
	}
	user, err := lockManaged(ctx, *root)
	if err != nil {
		fmt.Fprintf(stderr, "serialpass cleanup: locking the managed user's password: %s\n", agent.Reason(err))
		return 1
	}
	if user != "" {
		fmt.Fprintf(stdout, "serialpass cleanup: locked the password of %s (the account and its home stay)\n", user)
	}
	return 0
}

// lockManaged locks the password of the user the root's state file names.
func lockManaged(ctx context.Context, root string) (string, error) {
	st, err := agent.NewFileState(root).Load()
	if err != nil {
		return "", err
	}
	return agent.LockManaged(ctx, st, shadow.New(root, osexec.Runner{}))
}
