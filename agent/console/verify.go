package console

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/serialpass/serialpass/agent"
)

// ErrWrongPassword: the password does not match the user's stored hash.
// It is agent.ErrWrongPassword, so callers of the agent.Verifier seam can
// tell a mismatch from a failure to check.
var ErrWrongPassword = agent.ErrWrongPassword

// ErrCannotVerify: no means to check the password was available.
var ErrCannotVerify = errors.New("cannot verify the password")

// perlCheck reads "HASH\nPASSWORD" on stdin and exits 0 when crypt(3) of
// the password with the hash as salt gives the hash back, 1 when not, and
// 2 when crypt cannot handle the hash. Neither value is on argv.
const perlCheck = `local $/; my $in = <STDIN>; my ($h, $p) = split(/\n/, $in, 2); ` +
	`defined($p) or exit 2; my $c = crypt($p, $h); defined($c) or exit 2; exit($c eq $h ? 0 : 1);`

// Verify checks that pw is user's password, the way a login would see it:
//   - on the live system with pam_unix's helper, `unix_chkpwd USER nullok`,
//     which reads the password on stdin when run as root;
//   - under another root with crypt(3) of the root's etc/shadow hash,
//     through perl, hash and password on stdin (Go has no yescrypt).
//
// The password never reaches argv, the environment or an error.
func (c *Console) Verify(ctx context.Context, user string, pw agent.Password) error {
	if strings.ContainsAny(string(pw.Reveal()), "\n\x00") {
		return fmt.Errorf("%w for %q: it contains a newline or NUL", ErrCannotVerify, user)
	}
	if c.live() {
		return c.verifyChkpwd(ctx, user, pw)
	}
	return c.verifyCrypt(ctx, user, pw)
}

func (c *Console) verifyChkpwd(ctx context.Context, user string, pw agent.Password) error {
	helper := ""
	for _, p := range []string{"/usr/sbin/unix_chkpwd", "/sbin/unix_chkpwd"} {
		if c.exists(strings.TrimPrefix(p, "/")) {
			helper = p
			break
		}
	}
	if helper == "" {
		return fmt.Errorf("%w for %q: pam_unix's unix_chkpwd is not installed", ErrCannotVerify, user)
	}
	// pam_unix hands the helper the password followed by a NUL, and the
	// helper (read_passwords) discards input that is not NUL-terminated:
	// without it every password would be checked as empty.
	in := append(append(make([]byte, 0, pw.Len()+1), pw.Reveal()...), 0)
	_, err := c.Run.Run(ctx, bytes.NewReader(in), helper, user, "nullok")
	clear(in)
	if err != nil {
		// unix_chkpwd prints nothing useful and never the password; its
		// exit status is PAM_AUTH_ERR for a wrong one.
		return fmt.Errorf("%w for user %q (unix_chkpwd refused it: %w)", ErrWrongPassword, user, err)
	}
	return nil
}

func (c *Console) verifyCrypt(ctx context.Context, user string, pw agent.Password) error {
	hash, err := c.shadowHash(user)
	if err != nil {
		return err
	}
	var in bytes.Buffer
	in.WriteString(hash + "\n")
	in.Write(pw.Reveal())
	_, err = c.Run.Run(ctx, &in, "perl", "-e", perlCheck)
	if err == nil {
		return nil
	}
	if strings.Contains(err.Error(), "exit status 1") {
		return fmt.Errorf("%w for user %q (crypt of the etc/shadow hash)", ErrWrongPassword, user)
	}
	return fmt.Errorf("%w for %q with perl's crypt: %w", ErrCannotVerify, user, err)
}

// shadowHash returns user's password field from the root's etc/shadow.
func (c *Console) shadowHash(user string) (string, error) {
	e, err := c.shadowEntry(user)
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(e.hash, "$") {
		return "", fmt.Errorf("%w for user %q: no usable password hash in /etc/shadow", ErrWrongPassword, user)
	}
	return e.hash, nil
}
