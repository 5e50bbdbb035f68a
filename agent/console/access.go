package console

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
)

// Files of the console-only login, relative to the root.
const (
	AccessConfPath = "etc/security/access.conf"
	PAMLoginPath   = "etc/pam.d/login"
)

const pamAccessLine = "account    required     pam_access.so"

// accessBody is our access.conf rule set: pam_access takes the first rule
// that matches, so the block goes first and mentions only our user.
func accessBody(user string, o Options) []string {
	ttys := append([]string{o.Device()}, o.Consoles...)
	return []string{
		"+:" + user + ":" + strings.Join(ttys, " "),
		"-:" + user + ":ALL",
	}
}

// applyAccessConf writes our block into access.conf: in place if present,
// else at the top. It reports whether the file changed.
func (c *Console) applyAccessConf(user string, o Options) (bool, error) {
	data, _, err := c.read(AccessConfPath)
	if err != nil {
		return false, err
	}
	rest, at, err := stripBlock(data)
	if err != nil {
		return false, fmt.Errorf("/%s: %w", AccessConfPath, err)
	}
	if at < 0 {
		at = 0
	}
	out := insertBlock(rest, at, "the serial-console user logs in on the console only; managed by serialpass",
		accessBody(user, o))
	if bytes.Equal(out, data) {
		return false, nil
	}
	return true, c.write(AccessConfPath, out, 0o644)
}

// removeBlock takes our block out of rel, leaving every other byte.
func (c *Console) removeBlock(rel string) (bool, error) {
	data, ok, err := c.read(rel)
	if err != nil || !ok {
		return false, err
	}
	out, at, err := stripBlock(data)
	if err != nil {
		return false, fmt.Errorf("/%s: %w", rel, err)
	}
	if at < 0 {
		return false, nil
	}
	return true, c.write(rel, out, 0o644)
}

// pamAccessActive reports whether a pam_access account line outside our
// block is already enabled.
func pamAccessActive(data []byte) bool {
	rest, _, err := stripBlock(data)
	if err != nil {
		rest = data
	}
	start, _ := scanLines(rest, func(line string) bool {
		f := strings.Fields(line)
		return len(f) >= 3 && f[0] == "account" && strings.HasSuffix(f[2], "pam_access.so")
	})
	return start >= 0
}

// applyPAMLogin enables pam_access in the login stack with a marked
// block: after Debian's commented-out example line, else before the first
// account line, else at the end. When the admin enabled pam_access
// already, their line does the job and ours is not added.
func (c *Console) applyPAMLogin() (bool, error) {
	data, ok, err := c.read(PAMLoginPath)
	if err != nil {
		return false, err
	}
	if !ok {
		return false, fmt.Errorf("/%s does not exist: cannot keep the user on the console with pam_access", PAMLoginPath)
	}
	rest, at, err := stripBlock(data)
	if err != nil {
		return false, fmt.Errorf("/%s: %w", PAMLoginPath, err)
	}
	out := rest
	if !pamAccessActive(rest) {
		if at < 0 {
			at = pamInsertAt(rest)
		}
		out = insertBlock(rest, at, "pam_access keeps the serial-console user on the console; managed by serialpass",
			[]string{pamAccessLine})
	}
	if bytes.Equal(out, data) {
		return false, nil
	}
	return true, c.write(PAMLoginPath, out, 0o644)
}

func pamInsertAt(data []byte) int {
	if _, next := scanLines(data, func(line string) bool {
		f := strings.Fields(strings.TrimLeft(line, "#"))
		return strings.HasPrefix(strings.TrimSpace(line), "#") && len(f) >= 3 &&
			f[0] == "account" && strings.HasSuffix(f[2], "pam_access.so")
	}); next >= 0 {
		return next
	}
	if start, _ := scanLines(data, func(line string) bool {
		f := strings.Fields(line)
		return len(f) > 0 && (f[0] == "account" || f[0] == "-account" ||
			(f[0] == "@include" && len(f) > 1 && f[1] == "common-account"))
	}); start >= 0 {
		return start
	}
	return len(data)
}

// ApplyConsoleOnly restricts user to the serial console: the access.conf
// block, pam_access in the login stack and the sshd drop-in.
func (c *Console) ApplyConsoleOnly(ctx context.Context, user string, o Options) (warnings []string, err error) {
	if _, err := c.applyAccessConf(user, o); err != nil {
		return nil, err
	}
	if _, err := c.applyPAMLogin(); err != nil {
		return nil, err
	}
	return c.applySSHD(ctx, user)
}

// RemoveConsoleOnly takes our access.conf and PAM blocks and the sshd
// drop-in out again, restoring those files byte for byte.
func (c *Console) RemoveConsoleOnly(ctx context.Context) (warnings []string, err error) {
	_, err1 := c.removeBlock(AccessConfPath)
	_, err2 := c.removeBlock(PAMLoginPath)
	w, err3 := c.removeSSHD(ctx)
	return w, errors.Join(err1, err2, err3)
}

// ConsoleOnlyState is what doctor shows about console-only login.
type ConsoleOnlyState struct {
	AccessBlock  bool // our block is in access.conf
	AccessUser   string
	PAMAccess    bool // pam_access is enabled in the login stack (ours or not)
	SSHDropIn    bool // our sshd drop-in exists
	SSHIncluded  bool // the main sshd_config includes sshd_config.d
	SSHInstalled bool
}

// ConsoleOnlyState inspects the files without changing them.
func (c *Console) ConsoleOnlyState() (ConsoleOnlyState, error) {
	var s ConsoleOnlyState
	data, _, err := c.read(AccessConfPath)
	if err != nil {
		return s, err
	}
	if start, end, ok, err := findBlock(data); err == nil && ok {
		s.AccessBlock = true
		scanLines(data[start:end], func(line string) bool {
			if f := strings.Split(line, ":"); len(f) == 3 && f[0] == "+" {
				s.AccessUser = f[1]
			}
			return false
		})
	}
	pam, _, err := c.read(PAMLoginPath)
	if err != nil {
		return s, err
	}
	s.PAMAccess = pamAccessActive(pam) || bytes.Contains(pam, []byte(beginMarker))
	s.SSHInstalled = c.sshdInstalled()
	s.SSHDropIn = c.exists(SSHDropInPath)
	main, _, err := c.read(SSHDConfigPath)
	if err != nil {
		return s, err
	}
	s.SSHIncluded = includesDropIns(main)
	return s, nil
}
