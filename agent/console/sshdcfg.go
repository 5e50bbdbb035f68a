package console

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// Reading sshd_config as sshd does, for the one question that matters
// where it does not include our drop-in: can the console password be used
// over SSH? It never edits the file.

// sshdDirective is one keyword line, lower-cased keyword, and whether it
// sits after a Match line (then it applies to some connections only).
type sshdDirective struct {
	key     string
	args    []string
	inMatch bool
}

// maxIncludeDepth bounds nested Include directives (sshd allows 16).
const maxIncludeDepth = 16

// parseSSHDLine splits "Keyword args", "Keyword=args" or "Keyword = args";
// comments and blank lines give "".
func parseSSHDLine(line string) (key string, args []string) {
	line = strings.TrimSpace(line)
	if line == "" || strings.HasPrefix(line, "#") {
		return "", nil
	}
	i := strings.IndexAny(line, " \t=")
	if i < 0 {
		return strings.ToLower(line), nil
	}
	key = strings.ToLower(line[:i])
	rest := strings.TrimLeft(line[i:], " \t")
	rest = strings.TrimPrefix(rest, "=")
	for _, a := range strings.Fields(rest) {
		if strings.HasPrefix(a, "#") {
			break
		}
		args = append(args, strings.Trim(a, `"`))
	}
	return key, args
}

// sshdIncludePattern makes an Include argument absolute (relative ones
// are relative to /etc/ssh).
func sshdIncludePattern(arg string) string {
	if !strings.HasPrefix(arg, "/") {
		arg = "/etc/ssh/" + arg
	}
	return path.Clean(arg)
}

// includesDropIns reports whether sshd_config includes our drop-in: an
// Include in the global section (before any Match) whose pattern matches
// /etc/ssh/sshd_config.d/serialpass.conf.
func includesDropIns(cfg []byte) bool {
	found := false
	scanLines(cfg, func(line string) bool {
		key, args := parseSSHDLine(line)
		switch key {
		case "match":
			return true // an Include below applies to some connections only
		case "include":
			for _, a := range args {
				if ok, _ := path.Match(sshdIncludePattern(a), "/"+SSHDropInPath); ok {
					found = true
				}
			}
		}
		return found
	})
	return found
}

// sshdDirectives lists the directives of data, following Include under the
// root. inMatch is the context data starts in; the returned bool is the
// context it leaves (conservatively, a Match anywhere puts everything
// after it in match context).
func (c *Console) sshdDirectives(data []byte, inMatch bool, depth int) ([]sshdDirective, bool, error) {
	if depth > maxIncludeDepth {
		return nil, inMatch, errors.New("Include nested too deeply")
	}
	var out []sshdDirective
	var err error
	scanLines(data, func(line string) bool {
		key, args := parseSSHDLine(line)
		switch key {
		case "":
			return false
		case "match":
			inMatch = true
			return false
		case "include":
			for _, a := range args {
				var files []string
				if files, err = filepath.Glob(c.path(strings.TrimPrefix(sshdIncludePattern(a), "/"))); err != nil {
					return true
				}
				sort.Strings(files)
				for _, f := range files {
					rel, _ := filepath.Rel(c.Root, f)
					var inc []byte
					if inc, _, err = c.read(filepath.ToSlash(rel)); err != nil {
						return true
					}
					var sub []sshdDirective
					if sub, inMatch, err = c.sshdDirectives(inc, inMatch, depth+1); err != nil {
						return true
					}
					out = append(out, sub...)
				}
			}
			return false
		}
		out = append(out, sshdDirective{key: key, args: args, inMatch: inMatch})
		return false
	})
	return out, inMatch, err
}

// sshPasswordVerdict says whether sshd, configured by the main
// sshd_config alone (with what it includes), may accept user's password,
// and if so, what to set. The first value of a keyword wins; a Match
// block that turns a password method on counts as on.
//
// Keyboard-interactive is off only with ChallengeResponseAuthentication
// no (and KbdInteractiveAuthentication not yes): before OpenSSH 8.7 the
// two were separate and challenge-response, on by default, carried PAM
// passwords; since 8.7 they are one option.
func (c *Console) sshPasswordVerdict(main []byte, user string) (possible bool, fix string, err error) {
	dirs, _, err := c.sshdDirectives(main, false, 0)
	if err != nil {
		return true, "", fmt.Errorf("reading /%s: %w", SSHDConfigPath, err)
	}
	first := map[string]string{}
	matchOn, matchUsers := false, false
	denied, allowSeen, allowed := false, false, false
	for _, d := range dirs {
		switch d.key {
		case "passwordauthentication", "kbdinteractiveauthentication", "challengeresponseauthentication":
			if len(d.args) == 0 {
				continue
			}
			v := strings.ToLower(d.args[0])
			if d.inMatch {
				matchOn = matchOn || v == "yes"
			} else if _, ok := first[d.key]; !ok {
				first[d.key] = v
			}
		case "denyusers", "allowusers":
			if d.inMatch {
				matchUsers = true // a Match may replace the global list
				continue
			}
			if d.key == "allowusers" {
				allowSeen = true
			}
			for _, p := range d.args {
				if d.key == "denyusers" && sshUserPatternMatches(p, user, false) {
					denied = true
				}
				if d.key == "allowusers" && sshUserPatternMatches(p, user, true) {
					allowed = true
				}
			}
		}
	}
	if user != "" && !matchUsers && (denied || (allowSeen && !allowed)) {
		return false, "", nil
	}
	var missing []string
	if first["passwordauthentication"] != "no" {
		missing = append(missing, "PasswordAuthentication no")
	}
	if first["challengeresponseauthentication"] != "no" || first["kbdinteractiveauthentication"] == "yes" {
		missing = append(missing, "ChallengeResponseAuthentication no")
	}
	if first["kbdinteractiveauthentication"] == "yes" {
		missing = append(missing, "KbdInteractiveAuthentication no")
	}
	var fixes []string
	if len(missing) > 0 {
		fixes = append(fixes, "set "+strings.Join(missing, ", "))
	}
	if matchOn {
		fixes = append(fixes, "turn them on in no Match block")
	}
	return len(fixes) > 0, strings.Join(fixes, " and "), nil
}

// sshUserPatternMatches reports whether an AllowUsers/DenyUsers pattern
// may match user. USER@HOST patterns match from some hosts only, and
// negations are not followed: they count as a match for AllowUsers
// (lenient: it might let the user in) and as none for DenyUsers (it
// might not keep the user out).
func sshUserPatternMatches(p, user string, lenient bool) bool {
	if strings.HasPrefix(p, "!") {
		return lenient
	}
	name, _, host := strings.Cut(p, "@")
	if host && !lenient {
		return false
	}
	ok, err := path.Match(name, user)
	return err == nil && ok
}
