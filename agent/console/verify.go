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

// ErrCannotVerify: the check itself failed (no helper, a timeout, an
// unreadable or unusable etc/shadow entry...), so nothing is known about
// the password. It never wraps ErrWrongPassword: callers act on a
// mismatch (rotate mode drops AWSPENDING from a version), so only a
// genuine mismatch may say so.
var ErrCannotVerify = errors.New("cannot verify the password")

// cannotVerify wraps cause as "cannot verify the password of USER: cause".
func cannotVerify(user string, cause error) error {
	return fmt.Errorf("%w of %q: %w", ErrCannotVerify, user, cause)
}

// Exit statuses of pam_unix's unix_chkpwd (Linux-PAM's _pam_types.h).
// Linux-PAM 1.5 (Debian 12, RHEL 9) exits PAM_AUTH_ERR only when the hash
// does not match; an unknown user or an unreadable shadow entry is
// PAM_AUTHINFO_UNAVAIL, a bad invocation PAM_SYSTEM_ERR.
const (
	pamSystemErr        = 4
	pamAuthErr          = 7
	pamCredInsufficient = 8
	pamAuthinfoUnavail  = 9
	pamUserUnknown      = 10
)

var pamCodeNames = map[int]string{
	pamSystemErr:        "PAM_SYSTEM_ERR",
	pamAuthErr:          "PAM_AUTH_ERR",
	pamCredInsufficient: "PAM_CRED_INSUFFICIENT",
	pamAuthinfoUnavail:  "PAM_AUTHINFO_UNAVAIL",
	pamUserUnknown:      "PAM_USER_UNKNOWN",
}

// chkpwdMaxPass: unix_chkpwd reads at most PAM_MAX_RESP_SIZE (512) bytes
// with the final NUL; a longer password is checked as empty and refused
// (measured with Linux-PAM 1.5.2: 511 bytes pass, 512 fail). A login
// prompt cannot take more either.
const chkpwdMaxPass = 511

// perlCheck reads "HASH\nPASSWORD" on stdin and exits 0 when crypt(3) of
// the password with the hash as salt gives the hash back, 1 when it gives
// another hash, and 2 when crypt cannot handle the hash (undef, or
// libxcrypt's failure token "*0"/"*1"). Neither value is on argv.
const perlCheck = `local $/; my $in = <STDIN>; my ($h, $p) = split(/\n/, $in, 2); ` +
	`defined($p) or exit 2; my $c = crypt($p, $h); ` +
	`(defined($c) && length($c) >= 13 && substr($c, 0, 1) ne '*') or exit 2; exit($c eq $h ? 0 : 1);`

// Verify checks that pw is user's password, the way a login would see it:
//   - on the live system with pam_unix's helper, `unix_chkpwd USER nonull`,
//     which reads the password on stdin when run as root;
//   - under another root with crypt(3) of the root's etc/shadow hash,
//     through perl, hash and password on stdin (Go has no yescrypt).
//
// Only a genuine mismatch wraps ErrWrongPassword; any failure to check
// wraps ErrCannotVerify. The password never reaches argv, the
// environment or an error.
func (c *Console) Verify(ctx context.Context, user string, pw agent.Password) error {
	if strings.ContainsAny(string(pw.Reveal()), "\n\x00") {
		return cannotVerify(user, errors.New("it contains a newline or NUL"))
	}
	if pw.Len() == 0 {
		return cannotVerify(user, errors.New("it is empty"))
	}
	// Both ways need a real hash in etc/shadow; anything else (no entry,
	// an empty field, a locked account) says nothing about this password.
	hash, err := c.shadowHash(user)
	if err != nil {
		return cannotVerify(user, err)
	}
	if c.live() {
		return c.verifyChkpwd(ctx, user, pw)
	}
	return c.verifyCrypt(ctx, user, hash, pw)
}

// MaxPasswordLen is the longest password Verify can check: what
// unix_chkpwd reads on the live system, no bound of its own under another
// root (crypt(3) through perl takes any length). It implements
// agent.Verifier, so a pass refuses a longer password before setting it.
func (c *Console) MaxPasswordLen() int {
	if c.live() {
		return chkpwdMaxPass
	}
	return 0
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
		return cannotVerify(user, errors.New("pam_unix's unix_chkpwd is not installed"))
	}
	if pw.Len() > chkpwdMaxPass {
		return cannotVerify(user, fmt.Errorf("it is %d bytes long, more than the %d that pam_unix reads", pw.Len(), chkpwdMaxPass))
	}
	// pam_unix hands the helper the password followed by a NUL, and the
	// helper (read_passwords) discards input that is not NUL-terminated:
	// without it every password would be checked as empty. nonull: an
	// empty hash must not accept our (never empty) password.
	in := append(append(make([]byte, 0, pw.Len()+1), pw.Reveal()...), 0)
	_, err := c.Run.Run(ctx, bytes.NewReader(in), helper, user, "nonull")
	clear(in)
	if err == nil {
		return nil
	}
	// unix_chkpwd prints nothing useful and never the password.
	code, exited := exitStatus(ctx, err)
	switch {
	case exited && code == pamAuthErr:
		return fmt.Errorf("%w for user %q (unix_chkpwd: PAM_AUTH_ERR)", ErrWrongPassword, user)
	case exited:
		name := pamCodeNames[code]
		if name == "" {
			name = "unexpected status"
		}
		return cannotVerify(user, fmt.Errorf("unix_chkpwd exited %d (%s): %w", code, name, err))
	}
	return cannotVerify(user, fmt.Errorf("running unix_chkpwd: %w", err))
}

func (c *Console) verifyCrypt(ctx context.Context, user, hash string, pw agent.Password) error {
	var in bytes.Buffer
	in.WriteString(hash + "\n")
	in.Write(pw.Reveal())
	_, err := c.Run.Run(ctx, &in, "perl", "-e", perlCheck)
	if err == nil {
		return nil
	}
	code, exited := exitStatus(ctx, err)
	switch {
	case exited && code == 1:
		return fmt.Errorf("%w for user %q (crypt of the etc/shadow hash)", ErrWrongPassword, user)
	case exited && code == 2:
		return cannotVerify(user, fmt.Errorf("crypt(3) cannot handle the hash in /etc/shadow: %w", err))
	}
	return cannotVerify(user, fmt.Errorf("checking with perl's crypt: %w", err))
}

// exitStatus returns the exit status of a program that ran to its end, or
// exited false when it did not start, was killed, or the context ended
// (a status seen then may be the kill's, not the program's answer).
func exitStatus(ctx context.Context, err error) (code int, exited bool) {
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return 0, false
	}
	var ee interface{ ExitCode() int }
	if !errors.As(err, &ee) {
		return 0, false
	}
	if code = ee.ExitCode(); code < 0 { // killed by a signal
		return code, false
	}
	return code, true
}

// shadowHash returns user's password hash from the root's etc/shadow, or
// an error when there is none to check against (no entry, an empty field,
// a locked or disabled account).
func (c *Console) shadowHash(user string) (string, error) {
	e, err := c.shadowEntry(user)
	if err != nil {
		return "", err
	}
	switch {
	case e.hash == "":
		return "", errors.New("its /etc/shadow entry has an empty password field")
	case strings.HasPrefix(e.hash, "!") || strings.HasPrefix(e.hash, "*"):
		return "", errors.New("the account is locked in /etc/shadow")
	case len(e.hash) < 13:
		return "", errors.New("its /etc/shadow entry holds no password hash")
	}
	return e.hash, nil
}
