// Package shadow manages local accounts with shadow-utils (useradd,
// chpasswd, usermod, chage, userdel), run through an agent.Runner with argv
// only.
// It reads etc/passwd, etc/shadow, etc/group, etc/login.defs and etc/shells
// under a root directory and passes --root to every tool unless the root
// is "/". Passwords reach chpasswd on stdin only.
package shadow

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/serialpass/serialpass/agent"
)

// Defaults when the root's login.defs does not say.
const (
	DefaultUIDMin        = 1000
	DefaultUIDMax        = 60000
	DefaultEncryptMethod = "SHA512"
)

// encryptMethods are the ENCRYPT_METHOD values passed to chpasswd -c.
// DES and MD5 are refused: DES silently truncates passwords to 8 bytes.
var encryptMethods = []string{"SHA256", "SHA512", "BCRYPT", "YESCRYPT"}

// Manager implements agent.AccountManager for one root directory.
type Manager struct {
	root  string // what shadow-utils gets as --root
	files string // where etc/ is read from: root, except in tests
	run   agent.Runner
	now   func() time.Time // the clock that decides account expiry
}

var _ agent.AccountManager = (*Manager)(nil)

// New returns a Manager working under root ("/" for the running system)
// that runs shadow-utils through run.
func New(root string, run agent.Runner) *Manager {
	if root == "" {
		root = "/"
	}
	if abs, err := filepath.Abs(root); err == nil {
		root = abs
	}
	root = filepath.Clean(root)
	return &Manager{root: root, files: root, run: run, now: time.Now}
}

// rootArgs is the --root option shadow-utils gets, none for "/".
func (m *Manager) rootArgs() []string {
	if m.root == "/" {
		return nil
	}
	return []string{"--root", m.root}
}

// readEtc reads etc/name under the root without following links out of it.
func (m *Manager) readEtc(name string) ([]byte, error) {
	if m.files == "/" {
		return os.ReadFile(filepath.Join("/etc", name))
	}
	r, err := os.OpenRoot(m.files)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return r.ReadFile(filepath.Join("etc", name))
}

// isFile reports whether the absolute path p names a regular file in the
// root (after symbolic links that stay inside it).
func (m *Manager) isFile(p string) bool {
	var fi fs.FileInfo
	var err error
	if m.files == "/" {
		fi, err = os.Stat(p)
	} else {
		var r *os.Root
		if r, err = os.OpenRoot(m.files); err != nil {
			return false
		}
		defer r.Close()
		fi, err = r.Stat(strings.TrimPrefix(filepath.Clean(p), "/"))
	}
	return err == nil && fi.Mode().IsRegular()
}

// loginDefs reads the root's login.defs; a missing file means defaults.
func (m *Manager) loginDefs() (map[string]string, error) {
	b, err := m.readEtc("login.defs")
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading login.defs: %w", err)
	}
	return parseLoginDefs(b), nil
}

// System reads UID_MIN, UID_MAX and ENCRYPT_METHOD from login.defs
// (UID_MIN defaults to 1000, UID_MAX to 60000; EncryptMethod is empty
// when login.defs has none), the
// group names from etc/group, and the shells of etc/shells that exist as
// files in the root (/bin/bash and /bin/sh when etc/shells names none).
func (m *Manager) System(context.Context) (agent.System, error) {
	defs, err := m.loginDefs()
	if err != nil {
		return agent.System{}, err
	}
	sys := agent.System{UIDMin: DefaultUIDMin, UIDMax: DefaultUIDMax, EncryptMethod: strings.ToUpper(defs["ENCRYPT_METHOD"])}
	for key, dst := range map[string]*int{"UID_MIN": &sys.UIDMin, "UID_MAX": &sys.UIDMax} {
		v, ok := defs[key]
		if !ok {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return agent.System{}, fmt.Errorf("reading login.defs: %s %q is not a number", key, v)
		}
		*dst = n
	}
	gb, err := m.readEtc("group")
	if err != nil {
		return agent.System{}, fmt.Errorf("reading etc/group: %w", err)
	}
	for _, g := range parseGroup(gb) {
		if !slices.Contains(sys.Groups, g.Name) {
			sys.Groups = append(sys.Groups, g.Name)
		}
	}
	sb, err := m.readEtc("shells")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return agent.System{}, fmt.Errorf("reading etc/shells: %w", err)
	}
	for _, line := range strings.Split(string(sb), "\n") {
		s := strings.TrimSpace(line)
		if filepath.IsAbs(s) && s == filepath.Clean(s) && !slices.Contains(sys.Shells, s) && m.isFile(s) {
			sys.Shells = append(sys.Shells, s)
		}
	}
	if len(sys.Shells) == 0 {
		for _, s := range []string{"/bin/bash", "/bin/sh"} {
			if m.isFile(s) {
				sys.Shells = append(sys.Shells, s)
			}
		}
	}
	return sys, nil
}

// Lookup reads the account from etc/passwd, etc/shadow and etc/group.
// Locked is true when the shadow password field is empty, "*" or starts
// with "!", when the account has no shadow entry, and when its expiry date
// (shadow field 8) has come: in each case no password login is possible.
func (m *Manager) Lookup(_ context.Context, name string) (agent.Account, bool, error) {
	pb, err := m.readEtc("passwd")
	if err != nil {
		return agent.Account{}, false, fmt.Errorf("looking up user %q: reading etc/passwd: %w", name, err)
	}
	users := parsePasswd(pb)
	i := slices.IndexFunc(users, func(e passwdEntry) bool { return e.Name == name })
	if i < 0 {
		return agent.Account{}, false, nil
	}
	pw := users[i]
	acct := agent.Account{Name: name, UID: pw.UID, Shell: pw.Shell, Locked: true}
	sh, ok, err := m.shadowEntry(name)
	if err != nil {
		return agent.Account{}, false, fmt.Errorf("looking up user %q: %w", name, err)
	}
	if ok {
		sum := sha256.Sum256([]byte(sh.Password))
		acct.Fingerprint = hex.EncodeToString(sum[:])
		acct.Locked = unusable(sh.Password) || m.expired(sh)
		acct.Aging = &agent.Aging{LastChange: sh.LastChange, MinDays: sh.Min, MaxDays: sh.Max,
			WarnDays: sh.Warn, Inactive: sh.Inactive, Expire: sh.Expire}
	}
	gb, err := m.readEtc("group")
	if err != nil {
		return agent.Account{}, false, fmt.Errorf("looking up user %q: reading etc/group: %w", name, err)
	}
	for _, g := range parseGroup(gb) {
		if slices.Contains(g.Members, name) && !slices.Contains(acct.Groups, g.Name) {
			acct.Groups = append(acct.Groups, g.Name)
		}
	}
	return acct, true, nil
}

func (m *Manager) shadowEntry(name string) (shadowEntry, bool, error) {
	b, err := m.readEtc("shadow")
	if err != nil {
		return shadowEntry{}, false, fmt.Errorf("reading etc/shadow: %w", err)
	}
	for _, e := range parseShadow(b) {
		if e.Name == name {
			return e, true, nil
		}
	}
	return shadowEntry{}, false, nil
}

// unusable reports a password field that allows no password login.
func unusable(field string) bool {
	return field == "" || field == "*" || strings.HasPrefix(field, "!")
}

// expired applies pam_unix's rule: the account is expired from the day
// sp_expire on, day 0 included.
func (m *Manager) expired(e shadowEntry) bool {
	return e.Expire >= 0 && m.now().Unix()/86400 >= e.Expire
}

// Create runs useradd with a home directory, the shell and the groups,
// and without password aging or account expiry, whatever login.defs
// (PASS_MAX_DAYS, PASS_MIN_DAYS) and etc/default/useradd (INACTIVE,
// EXPIRE) say. Under a root other than "/", shadow-utils chroots, so the
// home directory lands under root/home.
func (m *Manager) Create(ctx context.Context, spec agent.AccountSpec) error {
	if err := checkNames(spec.Name, spec.Groups); err != nil {
		return fmt.Errorf("creating user %q: %w", spec.Name, err)
	}
	if !filepath.IsAbs(spec.Shell) || strings.ContainsAny(spec.Shell, ":,\n\r\x00") {
		return fmt.Errorf("creating user %q: shell %q is not an absolute path", spec.Name, spec.Shell)
	}
	argv := append([]string{"useradd"}, m.rootArgs()...)
	argv = append(argv, "--create-home", "--shell", spec.Shell, "--key", "PASS_MAX_DAYS=-1", "--key", "PASS_MIN_DAYS=0",
		"--inactive", "-1", "--expiredate", "")
	if len(spec.Groups) > 0 {
		argv = append(argv, "--groups", strings.Join(spec.Groups, ","))
	}
	if _, err := m.run.Run(ctx, nil, append(argv, spec.Name)...); err != nil {
		return fmt.Errorf("creating user %q: %w", spec.Name, err)
	}
	return nil
}

// SetPassword checks the name and the password again, then runs chpasswd
// with "name:password\n" on stdin, the only place the password goes.
// chpasswd replaces a locked ("!...") or disabled ("*") field; an expired
// account gets its expiry date removed with usermod afterwards.
func (m *Manager) SetPassword(ctx context.Context, name string, pw agent.Password) error {
	if err := agent.ValidUserName(name); err != nil {
		return fmt.Errorf("setting password of user %q: %w", name, err)
	}
	if err := agent.CheckPassword(pw); err != nil {
		return fmt.Errorf("setting password of user %q: %w", name, err)
	}
	sh, ok, err := m.shadowEntry(name)
	switch {
	case err != nil:
		return fmt.Errorf("setting password of user %q: %w", name, err)
	case !ok:
		return fmt.Errorf("setting password of user %q: no entry in etc/shadow", name)
	}
	method, err := m.hashMethod()
	if err != nil {
		return fmt.Errorf("setting password of user %q: %w", name, err)
	}
	argv := append([]string{"chpasswd"}, m.rootArgs()...)
	if method != "" {
		argv = append(argv, "-c", method)
	}
	line := make([]byte, 0, len(name)+pw.Len()+2)
	line = append(append(append(line, name...), ':'), pw.Reveal()...)
	line = append(line, '\n')
	_, err = m.run.Run(ctx, bytes.NewReader(line), argv...)
	clear(line)
	if err != nil {
		return fmt.Errorf("setting password of user %q: %w", name, err)
	}
	if m.expired(sh) {
		argv := append([]string{"usermod"}, m.rootArgs()...)
		if _, err := m.run.Run(ctx, nil, append(argv, "--expiredate", "", name)...); err != nil {
			return fmt.Errorf("removing the expiry date of user %q: %w", name, err)
		}
	}
	return nil
}

// hashMethod returns the -c argument for chpasswd, or "" to let PAM pick
// the hash: always on "/", and under a root whose own PAM has a chpasswd
// service. Otherwise chpasswd --root fails in pam_start, so the root's
// ENCRYPT_METHOD is passed (SHA512 when login.defs has none).
func (m *Manager) hashMethod() (string, error) {
	if m.root == "/" || m.isFile("/etc/pam.d/chpasswd") {
		return "", nil
	}
	defs, err := m.loginDefs()
	if err != nil {
		return "", err
	}
	method := strings.ToUpper(defs["ENCRYPT_METHOD"])
	if method == "" {
		method = DefaultEncryptMethod
	}
	if !slices.Contains(encryptMethods, method) {
		return "", fmt.Errorf("ENCRYPT_METHOD %q in the root's login.defs is not supported (want one of %s)",
			method, strings.Join(encryptMethods, ", "))
	}
	return method, nil
}

// AddGroups runs usermod --append --groups, keeping the user's other
// groups.
func (m *Manager) AddGroups(ctx context.Context, name string, groups []string) error {
	if err := checkNames(name, groups); err != nil {
		return fmt.Errorf("adding user %q to groups: %w", name, err)
	}
	if len(groups) == 0 {
		return nil
	}
	argv := append([]string{"usermod"}, m.rootArgs()...)
	argv = append(argv, "--append", "--groups", strings.Join(groups, ","), name)
	if _, err := m.run.Run(ctx, nil, argv...); err != nil {
		return fmt.Errorf("adding user %q to groups %s: %w", name, strings.Join(groups, ","), err)
	}
	return nil
}

// Delete runs userdel --remove, which also removes the home directory.
func (m *Manager) Delete(ctx context.Context, name string) error {
	if err := agent.ValidUserName(name); err != nil {
		return fmt.Errorf("deleting user %q: %w", name, err)
	}
	argv := append([]string{"userdel"}, m.rootArgs()...)
	if _, err := m.run.Run(ctx, nil, append(argv, "--remove", name)...); err != nil {
		return fmt.Errorf("deleting user %q: %w", name, err)
	}
	return nil
}

// Lock runs usermod --lock, which puts '!' before the hash: no password
// login until the next chpasswd replaces the field.
func (m *Manager) Lock(ctx context.Context, name string) error {
	if err := agent.ValidUserName(name); err != nil {
		return fmt.Errorf("locking user %q: %w", name, err)
	}
	argv := append([]string{"usermod"}, m.rootArgs()...)
	if _, err := m.run.Run(ctx, nil, append(argv, "--lock", name)...); err != nil {
		return fmt.Errorf("locking user %q: %w", name, err)
	}
	return nil
}

// checkNames validates a user name and group names before they reach argv.
func checkNames(user string, groups []string) error {
	if err := agent.ValidUserName(user); err != nil {
		return fmt.Errorf("user name: %w", err)
	}
	for _, g := range groups {
		if err := agent.ValidUserName(g); err != nil {
			return fmt.Errorf("group name: %w", err)
		}
	}
	return nil
}
