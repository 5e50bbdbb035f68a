package console

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

type shadowFields struct {
	hash     string
	lastChg  int64 // days since the epoch; 0: must change at next login; -1: empty
	maxDays  int64 // -1: empty
	inactive int64
	expire   int64
}

func days(s string) int64 {
	if s == "" {
		return -1
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// shadowEntry reads user's line of the root's etc/shadow.
func (c *Console) shadowEntry(user string) (shadowFields, error) {
	data, ok, err := c.read("etc/shadow")
	if err != nil {
		return shadowFields{}, err
	}
	if ok {
		for _, line := range strings.Split(string(data), "\n") {
			f := strings.Split(strings.TrimSuffix(line, "\r"), ":")
			if len(f) == 9 && f[0] == user {
				return shadowFields{hash: f[1], lastChg: days(f[2]), maxDays: days(f[4]),
					inactive: days(f[6]), expire: days(f[7])}, nil
			}
		}
	}
	return shadowFields{}, fmt.Errorf("user %q has no entry in /etc/shadow", user)
}

// AccountState is what a login on the console needs of the account.
type AccountState struct {
	Exists bool
	// Problem says why a password login would fail (locked, expired), or
	// is empty.
	Problem string
}

// Account inspects user in the root's etc/passwd and etc/shadow at now.
func (c *Console) Account(user string, now time.Time) (AccountState, error) {
	passwd, _, err := c.read("etc/passwd")
	if err != nil {
		return AccountState{}, err
	}
	found := false
	for _, line := range strings.Split(string(passwd), "\n") {
		if name, _, ok := strings.Cut(line, ":"); ok && name == user {
			found = true
			break
		}
	}
	if !found {
		return AccountState{}, nil
	}
	e, err := c.shadowEntry(user)
	if err != nil {
		return AccountState{Exists: true, Problem: err.Error()}, nil
	}
	today := now.Unix() / 86400
	switch {
	case e.hash == "":
		return AccountState{Exists: true, Problem: "has an empty password"}, nil
	case strings.HasPrefix(e.hash, "!") || e.hash == "*" || !strings.HasPrefix(e.hash, "$"):
		return AccountState{Exists: true, Problem: "is locked (no password set)"}, nil
	case e.expire >= 0 && today >= e.expire:
		return AccountState{Exists: true, Problem: "has expired (chage -E -1 " + user + ")"}, nil
	case e.lastChg == 0:
		return AccountState{Exists: true, Problem: "must change its password at the next login"}, nil
	case e.lastChg > 0 && e.maxDays >= 0 && e.maxDays < 99999 && today > e.lastChg+e.maxDays:
		return AccountState{Exists: true, Problem: "has an expired password (chage -M -1 " + user + ")"}, nil
	}
	return AccountState{Exists: true}, nil
}
