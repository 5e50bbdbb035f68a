package console

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"sort"
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

// DefaultAccessFile is the table pam_access reads without accessfile=.
const DefaultAccessFile = "/etc/security/access.conf"

// pamAccess is one pam_access account line of a PAM file.
type pamAccess struct {
	// enforcing: a denial fails the stack (required, requisite, or a
	// bracketed control whose default is bad or die).
	enforcing bool
	// accessFile is the table it reads ("" for the default one).
	accessFile string
	// readsOurs: it reads access.conf, with ':' among its separators, so
	// our block there is in force.
	readsOurs bool
	// table says what it reads, for messages.
	table string
}

// parsePAMAccess reads a pam_access account line, or ok false.
func parsePAMAccess(line string) (pa pamAccess, ok bool) {
	f := strings.Fields(line)
	if len(f) < 3 || (f[0] != "account" && f[0] != "-account") {
		return pa, false
	}
	control, i := f[1], 2
	if strings.HasPrefix(control, "[") {
		for i = 1; i < len(f) && !strings.HasSuffix(f[i], "]"); i++ {
		}
		if i >= len(f) {
			return pa, false
		}
		control, i = strings.Join(f[1:i+1], " "), i+1
	}
	if i >= len(f) || path.Base(f[i]) != "pam_access.so" {
		return pa, false
	}
	switch {
	case control == "required" || control == "requisite":
		pa.enforcing = true
	case strings.HasPrefix(control, "["):
		pa.enforcing = strings.Contains(control, "default=bad") || strings.Contains(control, "default=die")
	}
	fieldsep := ""
	for _, arg := range f[i+1:] {
		if v, ok := strings.CutPrefix(arg, "accessfile="); ok {
			pa.accessFile = v
		}
		if v, ok := strings.CutPrefix(arg, "fieldsep="); ok {
			fieldsep = v
		}
	}
	onDefault := pa.accessFile == "" || path.Clean(pa.accessFile) == DefaultAccessFile
	sepOK := fieldsep == "" || strings.Contains(fieldsep, ":")
	pa.readsOurs = pa.enforcing && onDefault && sepOK
	switch {
	case !onDefault:
		pa.table = pa.accessFile
	case !sepOK:
		pa.table = DefaultAccessFile + " with fieldsep=" + fieldsep
	default:
		pa.table = DefaultAccessFile
	}
	return pa, true
}

// pamAccessUses lists the pam_access account lines of data outside our
// block.
func pamAccessUses(data []byte) []pamAccess {
	rest, _, err := stripBlock(data)
	if err != nil {
		rest = data
	}
	var out []pamAccess
	scanLines(rest, func(line string) bool {
		if pa, ok := parsePAMAccess(line); ok {
			out = append(out, pa)
		}
		return false
	})
	return out
}

// pamAccessActive reports whether a pam_access line outside our block
// already enforces access.conf, our block included.
func pamAccessActive(data []byte) bool {
	return slices.ContainsFunc(pamAccessUses(data), func(pa pamAccess) bool { return pa.readsOurs })
}

// accessRulesOfOthers names the first file with a rule of its own that a
// pam_access line reading the default table would start to apply:
// access.conf outside our block, or /etc/security/access.d/*.conf.
func (c *Console) accessRulesOfOthers() (string, error) {
	files := []string{AccessConfPath}
	matches, _ := filepath.Glob(c.path("etc/security/access.d/*.conf"))
	sort.Strings(matches)
	for _, m := range matches {
		rel, _ := filepath.Rel(c.Root, m)
		files = append(files, filepath.ToSlash(rel))
	}
	for _, f := range files {
		data, _, err := c.read(f)
		if err != nil {
			return "", err
		}
		if rest, _, err := stripBlock(data); err == nil {
			data = rest
		}
		if start, _ := scanLines(data, func(line string) bool {
			line = strings.TrimSpace(line)
			return line != "" && !strings.HasPrefix(line, "#")
		}); start >= 0 {
			return "/" + f, nil
		}
	}
	return "", nil
}

// applyPAMLogin enables pam_access in the login stack with a marked
// block: after Debian's commented-out example line, else before the first
// account line, else at the end. When the admin enabled pam_access on
// access.conf already, their line does the job and ours is not added.
//
// An admin's pam_access line that reads another table (accessfile=, or
// fieldsep= without ':') does not read our block. Ours is then added
// only if access.conf and access.d hold no rules but ours: our line would
// start applying any other rule there to console logins, and could lock
// someone out. With rules there, we change nothing and say what to add to
// their table.
func (c *Console) applyPAMLogin(user string, o Options) (bool, error) {
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
			if err := c.checkOtherAccessFile(rest, user, o); err != nil {
				return false, err
			}
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

// checkOtherAccessFile refuses to add our pam_access line next to an
// admin's line on another table (another accessfile=, or fieldsep=
// without ':'), enforcing or not, while the default tables hold rules of
// their own: the admin chose not to apply those to console logins.
func (c *Console) checkOtherAccessFile(login []byte, user string, o Options) error {
	other := ""
	for _, pa := range pamAccessUses(login) {
		if pa.table != DefaultAccessFile {
			other = pa.table
			break
		}
	}
	if other == "" {
		return nil
	}
	f, err := c.accessRulesOfOthers()
	if err != nil || f == "" {
		return err
	}
	rules := accessBody(user, o)
	return fmt.Errorf("pam_access in /%s reads %s, not our rules; enabling it for %s would also apply the rules in %s: put %q and %q first in the table it reads",
		PAMLoginPath, other, DefaultAccessFile, f, rules[0], rules[1])
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
	if _, err := c.applyPAMLogin(user, o); err != nil {
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
	AccessBlock bool // our block is in access.conf
	AccessUser  string
	PAMAccess   bool // pam_access is enabled in the login stack (ours or not)
	SSHDropIn   bool // our sshd drop-in exists
	SSHIncluded bool // the main sshd_config includes sshd_config.d
	// SSHRefusesPassword: sshd_config does not include our drop-in, but
	// keeps password logins (of AccessUser) off SSH by itself.
	SSHRefusesPassword bool
	SSHInstalled       bool
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
	if s.SSHInstalled && !s.SSHIncluded {
		possible, _, err := c.sshPasswordVerdict(main, s.AccessUser)
		s.SSHRefusesPassword = err == nil && !possible
	}
	return s, nil
}
