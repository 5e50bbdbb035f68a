package shadow

import (
	"bytes"
	"strconv"
	"strings"
)

// The parsers below are pure functions over file contents. They skip lines
// they cannot make sense of (comments, NIS "+"/"-" entries, wrong field
// counts, bad numbers) instead of failing: one junk line in a real root
// must not hide every account from the agent.

// passwdEntry is one line of etc/passwd.
type passwdEntry struct {
	Name  string
	UID   int
	GID   int
	Home  string
	Shell string
}

// shadowEntry is one line of etc/shadow.
type shadowEntry struct {
	Name     string
	Password string // the whole second field: hash, "!hash", "*", ""
	// Fields 3 to 7: the last change (days since 1970-01-01), the minimum
	// and maximum password age, the warning period and the inactivity
	// period, in days; -1 when empty.
	LastChange, Min, Max, Warn, Inactive int64
	// Expire is field 8, days since 1970-01-01, or -1 when empty.
	Expire int64
}

// groupEntry is one line of etc/group.
type groupEntry struct {
	Name    string
	GID     int
	Members []string
}

// colonLines yields the fields of each colon-separated line that has exactly n
// fields and a usable name.
func colonLines(b []byte, n int, yield func(f []string)) {
	for raw := range bytes.SplitSeq(b, []byte("\n")) {
		line := strings.TrimSuffix(string(raw), "\r")
		if line == "" || line[0] == '#' || line[0] == '+' || line[0] == '-' {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) != n || !plausibleName(f[0]) {
			continue
		}
		yield(f)
	}
}

// plausibleName accepts the names shadow-utils itself would have written:
// non-empty, no blanks or control characters.
func plausibleName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || r == ',' {
			return false
		}
	}
	return true
}

// id parses a numeric UID or GID field.
func id(s string) (int, bool) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, false
	}
	return int(n), true
}

func parsePasswd(b []byte) []passwdEntry {
	var out []passwdEntry
	colonLines(b, 7, func(f []string) {
		uid, ok1 := id(f[2])
		gid, ok2 := id(f[3])
		if ok1 && ok2 {
			out = append(out, passwdEntry{Name: f[0], UID: uid, GID: gid, Home: f[5], Shell: f[6]})
		}
	})
	return out
}

func parseShadow(b []byte) []shadowEntry {
	var out []shadowEntry
	colonLines(b, 9, func(f []string) {
		var n [6]int64 // fields 3 to 8
		for i := range n {
			v, ok := days(f[2+i])
			if !ok {
				return
			}
			n[i] = v
		}
		out = append(out, shadowEntry{Name: f[0], Password: f[1],
			LastChange: n[0], Min: n[1], Max: n[2], Warn: n[3], Inactive: n[4], Expire: n[5]})
	})
	return out
}

// days parses a numeric shadow field: -1 when empty, false when it is not
// a number of -1 or more.
func days(s string) (int64, bool) {
	if s == "" {
		return -1, true
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < -1 {
		return 0, false
	}
	return n, true
}

func parseGroup(b []byte) []groupEntry {
	var out []groupEntry
	colonLines(b, 4, func(f []string) {
		gid, ok := id(f[2])
		if !ok {
			return
		}
		g := groupEntry{Name: f[0], GID: gid}
		for _, m := range strings.Split(f[3], ",") {
			if m = strings.TrimSpace(m); plausibleName(m) {
				g.Members = append(g.Members, m)
			}
		}
		out = append(out, g)
	})
	return out
}

// parseLoginDefs reads "KEY value" lines the way shadow-utils' getdef.c
// does: the value is the first token after the key, with blanks and double
// quotes around it removed; comments and blank lines are skipped and a
// later definition wins. A carriage return counts as a blank here.
func parseLoginDefs(b []byte) map[string]string {
	out := map[string]string{}
	const blanks = " \t\r"
	for raw := range bytes.SplitSeq(b, []byte("\n")) {
		line := strings.TrimLeft(string(raw), blanks)
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.IndexAny(line, blanks)
		if i < 0 {
			continue
		}
		key, val := line[:i], strings.TrimLeft(line[i:], blanks+`"`)
		if j := strings.IndexAny(val, blanks+`"`); j >= 0 {
			val = val[:j]
		}
		if val != "" {
			out[key] = val
		}
	}
	return out
}
