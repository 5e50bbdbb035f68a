package doctor

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/serialpass/serialpass/agent"
	"github.com/serialpass/serialpass/agent/console"
)

// TestSSHDCheck: where sshd_config does not include sshd_config.d, doctor
// agrees with the agent's pass: fine when the main file refuses password
// logins by itself, a failure when it does not.
func TestSSHDCheck(t *testing.T) {
	included := console.ConsoleOnlyState{AccessBlock: true, AccessUser: "ec2-serial", PAMAccess: true,
		SSHInstalled: true, SSHDropIn: true, SSHIncluded: true}
	tests := []struct {
		name    string
		mutate  func(s *console.ConsoleOnlyState)
		want    Level
		whyHas  string
		fixHas  string
		failing bool
	}{
		{name: "drop-in included", mutate: func(*console.ConsoleOnlyState) {}, want: Pass, whyHas: "DenyUsers"},
		{name: "no sshd", mutate: func(s *console.ConsoleOnlyState) {
			*s = console.ConsoleOnlyState{AccessBlock: true, AccessUser: "ec2-serial", PAMAccess: true}
		},
			want: Pass, whyHas: "no OpenSSH server"},
		{name: "drop-in missing", mutate: func(s *console.ConsoleOnlyState) { s.SSHDropIn = false },
			want: Fail, whyHas: "serialpass.conf is missing", fixHas: "serialpass once", failing: true},
		{name: "not included, main file allows passwords", mutate: func(s *console.ConsoleOnlyState) { s.SSHIncluded = false },
			want: Fail, whyHas: "allows password logins", fixHas: "PasswordAuthentication no", failing: true},
		{name: "not included, main file refuses passwords", mutate: func(s *console.ConsoleOnlyState) {
			s.SSHIncluded, s.SSHRefusesPassword = false, true
		}, want: Pass, whyHas: "the main file itself refuses password logins for ec2-serial"},
		{name: "not included, refuses passwords, no drop-in either", mutate: func(s *console.ConsoleOnlyState) {
			s.SSHIncluded, s.SSHRefusesPassword, s.SSHDropIn = false, true, false
		}, want: Pass, whyHas: "does not include sshd_config.d"},
		{name: "not included, refuses passwords, no access block (judged for no user)", mutate: func(s *console.ConsoleOnlyState) {
			s.SSHIncluded, s.SSHRefusesPassword, s.AccessBlock, s.AccessUser = false, true, false, ""
		}, want: Pass, whyHas: "refuses password logins", failing: true}, // pam_access fails
		{name: "not included, refuses passwords of another user only", mutate: func(s *console.ConsoleOnlyState) {
			s.SSHIncluded, s.SSHRefusesPassword, s.AccessUser = false, true, "olduser"
		}, want: Fail, whyHas: "allows password logins", failing: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := healthy()
			h := d.Host.(fakeHost)
			h.only = included
			tt.mutate(&h.only)
			d.Host = h
			checks := d.Run(context.Background())
			c := byName(checks)["sshd drop-in"]
			if c.Level != tt.want || !strings.Contains(c.Why, tt.whyHas) || !strings.Contains(c.Fix, tt.fixHas) {
				t.Errorf("sshd drop-in = %+v, want level %q, why with %q, fix with %q", c, tt.want, tt.whyHas, tt.fixHas)
			}
			if Failed(checks) != tt.failing {
				t.Errorf("Failed = %v, want %v", Failed(checks), tt.failing)
			}
		})
	}
}

// fakeLogins is a hand-written LoginRecords.
type fakeLogins struct {
	found   []string
	records int
	err     error
}

func (f fakeLogins) Paths() []string { return []string{"/var/log/wtmp.1", "/var/log/wtmp"} }
func (f fakeLogins) LoginRecords() ([]string, int, error) {
	return f.found, f.records, f.err
}

// TestLoginRecordsCheck: in rotate mode with rotate_after_use on, doctor
// warns when post-use rotation can see no login, and says how to fix it.
func TestLoginRecordsCheck(t *testing.T) {
	wtmp := []string{"/var/log/wtmp"}
	tests := []struct {
		name   string
		mode   string // the mode tag; "" for pull without a mode tag
		after  time.Duration
		logins LoginRecords
		want   Level // "": no such check
		whyHas string
		fixHas string
	}{
		{name: "rotate, records present", mode: "rotate", after: time.Hour, logins: fakeLogins{found: wtmp, records: 12},
			want: Pass, whyHas: "/var/log/wtmp: 12 records; the password is rotated 1h0m0s after each use"},
		{name: "rotate, records in wtmp.1 only", mode: "rotate", after: time.Hour,
			logins: fakeLogins{found: []string{"/var/log/wtmp.1"}, records: 3}, want: Pass, whyHas: "/var/log/wtmp.1: 3 records"},
		{name: "rotate, no wtmp at all", mode: "rotate", after: time.Hour, logins: fakeLogins{},
			want: Warn, whyHas: "neither /var/log/wtmp.1 nor /var/log/wtmp exists", fixHas: "install -m 664 -o root -g utmp /dev/null /var/log/wtmp"},
		{name: "rotate, empty wtmp", mode: "rotate", after: 30 * time.Minute, logins: fakeLogins{found: wtmp},
			want: Warn, whyHas: "rotation 30m0s after each use never happens", fixHas: "serialpass:rotate tag"},
		{name: "rotate, unreadable", mode: "rotate", after: time.Hour,
			logins: fakeLogins{err: errors.New(`reading login records "/var/log/wtmp": permission denied`)},
			want:   Warn, whyHas: "permission denied"},
		{name: "rotate, rotate_after_use off", mode: "rotate", after: 0, logins: fakeLogins{}},
		{name: "pull mode", after: time.Hour, logins: fakeLogins{}},
		{name: "rotate, no seam", mode: "rotate", after: time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := healthy()
			if tt.mode != "" {
				onlyTags(d, map[string]string{"serialpass:mode": tt.mode})
			}
			d.Config.RotateAfterUse = agent.Duration(tt.after)
			d.Logins = tt.logins
			checks := d.Run(context.Background())
			c, ok := byName(checks)["login records"]
			if tt.want == "" {
				if ok {
					t.Errorf("unexpected check %+v", c)
				}
				return
			}
			if c.Level != tt.want || !strings.Contains(c.Why, tt.whyHas) || !strings.Contains(c.Fix, tt.fixHas) {
				t.Errorf("login records = %+v, want level %q, why with %q, fix with %q", c, tt.want, tt.whyHas, tt.fixHas)
			}
			if Failed(checks) {
				t.Errorf("login records made doctor fail: %+v", checks)
			}
		})
	}
}

func byName(checks []Check) map[string]Check {
	m := map[string]Check{}
	for _, c := range checks {
		m[c.Name] = c
	}
	return m
}
