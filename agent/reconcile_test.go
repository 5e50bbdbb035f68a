package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

type rig struct {
	tags     *fakeTags
	secrets  *fakeSecrets
	accounts *fakeAccounts
	reporter *fakeReporter
	state    *memState
	agent    *Agent
}

func newRig(t *testing.T, tags map[string]string) *rig {
	t.Helper()
	r := &rig{
		tags:     &fakeTags{tags: tags},
		secrets:  &fakeSecrets{},
		accounts: newFakeAccounts(),
		reporter: &fakeReporter{},
		state:    &memState{},
	}
	r.agent = &Agent{
		Config:   DefaultConfig(),
		Identity: Identity{InstanceID: "i-0123456789abcdef0", Region: "us-east-1"},
		Tags:     r.tags, Secrets: r.secrets, Accounts: r.accounts,
		Reporter: r.reporter, State: r.state,
		Clock: &fakeClock{now: time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)},
		Log:   discardLog(),
	}
	return r
}

const goodPW = "correct horse battery staple"

func TestPassHappyPathAndIdempotence(t *testing.T) {
	r := newRig(t, map[string]string{"serialpass:secret": "fleet/console"})
	r.secrets.put("fleet/console", "v1", `{"username":"ec2-serial","password":"`+goodPW+`"}`)

	res := r.agent.Pass(context.Background())
	if !res.OK() || res.Status != StatusReady || !res.Changed || !res.Reported {
		t.Fatalf("first pass = %+v", res)
	}
	a := r.accounts.accounts["ec2-serial"]
	if a == nil || a.pw != goodPW || a.acct.Locked {
		t.Fatalf("account after first pass = %+v", a)
	}
	if got := a.acct.Groups; len(got) != 1 || got[0] != "sudo" {
		t.Errorf("groups = %v, want [sudo]", got)
	}
	if got := r.reporter.reports[0]; got["serialpass:status"] != "ready" || got["serialpass:status:version"] != "v1" || got["serialpass:status:time"] != "2026-12-03T12:00:00Z" {
		t.Errorf("report = %v", got)
	}

	t.Run("second pass changes nothing", func(t *testing.T) {
		calls := len(r.accounts.calls)
		res := r.agent.Pass(context.Background())
		if !res.OK() || res.Status != StatusReady || res.Changed || res.Reported {
			t.Fatalf("second pass = %+v", res)
		}
		if len(r.accounts.calls) != calls {
			t.Errorf("account calls %v after an idle pass", r.accounts.calls[calls:])
		}
		if len(r.reporter.reports) != 1 {
			t.Errorf("reported %d times, want 1", len(r.reporter.reports))
		}
	})
	t.Run("new AWSCURRENT version is applied", func(t *testing.T) {
		r.secrets.put("fleet/console", "v2", "another password")
		res := r.agent.Pass(context.Background())
		if !res.OK() || !res.Changed || res.VersionID != "v2" || !res.Reported {
			t.Fatalf("pass = %+v", res)
		}
		if a.pw != "another password" {
			t.Errorf("password not updated")
		}
	})
	t.Run("a bad new version keeps reporting the live one", func(t *testing.T) {
		r.secrets.put("fleet/console", "v3-0123456789", "bad\nroot:x")
		res := r.agent.Pass(context.Background())
		if res.OK() || res.VersionID != "v2" || !strings.Contains(res.Reason, `version v3-01234:`) {
			t.Fatalf("pass = %+v, want error, version v2, reason naming v3-01234", res)
		}
		if a.pw != "another password" {
			t.Errorf("password changed")
		}
		r.secrets.put("fleet/console", "v2", "another password")
		if res := r.agent.Pass(context.Background()); !res.OK() || res.Changed || !res.Reported {
			t.Fatalf("back to v2: %+v, want ready again, reported, unchanged", res)
		}
	})
	t.Run("a local change is repaired", func(t *testing.T) {
		a.acct.Fingerprint = "changed by hand"
		res := r.agent.Pass(context.Background())
		if !res.OK() || !res.Changed || res.Reported {
			t.Fatalf("pass = %+v (want changed, not reported: status is the same)", res)
		}
	})
	t.Run("a locked account is unlocked", func(t *testing.T) {
		a.acct.Locked = true
		res := r.agent.Pass(context.Background())
		if !res.OK() || !res.Changed || a.acct.Locked {
			t.Fatalf("pass = %+v, locked=%v", res, a.acct.Locked)
		}
	})
}

func TestPassRefusesBadInput(t *testing.T) {
	long40 := strings.Repeat("a", 40)
	cases := []struct {
		name   string
		tags   map[string]string
		secret string // the SecretString of fleet/console
		want   string // in the reason
	}{
		{"password with a newline", nil, "pw\nroot:x", "newline"},
		{"password with a carriage return", nil, "pw\rx", "newline"},
		{"password with NUL", nil, "pw\x00x", "NUL"},
		{"empty password", nil, `{"password":""}`, "empty"},
		{"empty plain secret", nil, "", "empty"},
		{"2 KB password", nil, strings.Repeat("x", 2048), "more than 1024"},
		{"invalid UTF-8", nil, "pw\xff", "UTF-8"},
		{"user root without allow_root", map[string]string{"serialpass:user": "root"}, goodPW, "allow_root"},
		{"system user daemon", map[string]string{"serialpass:user": "daemon"}, goodPW, "system account"},
		{"user nobody (above UID_MAX)", map[string]string{"serialpass:user": "nobody"}, goodPW, "UID_MAX"},
		{"user with a space", map[string]string{"serialpass:user": "Bad Name"}, goodPW, "not a valid name"},
		{"user with a semicolon", map[string]string{"serialpass:user": "a;b"}, goodPW, "not a valid name"},
		{"user of 40 characters", map[string]string{"serialpass:user": long40}, goodPW, "not a valid name"},
		{"JSON username differs", nil, `{"username":"alice","password":"` + goodPW + `"}`, `for user "alice"`},
		{"JSON without password", nil, `{"username":"ec2-serial"}`, `no "password"`},
		{"malformed JSON", nil, `{"password": "abc`, "not a valid JSON object"},
		{"group off the allow-list", map[string]string{"serialpass:groups": "sudo,adm"}, goodPW, `"adm" is not on the allow-list`},
		{"secret does not exist", map[string]string{"serialpass:secret": "nope"}, goodPW, `secret "nope" not found`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tags := map[string]string{"serialpass:secret": "fleet/console"}
			for k, v := range tc.tags {
				tags[k] = v
			}
			r := newRig(t, tags)
			r.secrets.put("fleet/console", "v1", tc.secret)
			res := r.agent.Pass(context.Background())
			if res.OK() || res.Status != StatusError {
				t.Fatalf("pass = %+v, want an error", res)
			}
			if !strings.Contains(res.Reason, tc.want) {
				t.Errorf("reason %q does not mention %q", res.Reason, tc.want)
			}
			if len(r.accounts.calls) != 0 {
				t.Errorf("account calls %v, want none", r.accounts.calls)
			}
			if len(r.reporter.reports) != 1 || r.reporter.reports[0]["serialpass:status"] != "error" || r.reporter.reports[0]["serialpass:status:reason"] != res.Reason {
				t.Errorf("reports = %v", r.reporter.reports)
			}
			if tc.secret != "" && len(tc.secret) > 3 && strings.Contains(res.Reason, tc.secret) {
				t.Errorf("reason %q quotes the secret", res.Reason)
			}
		})
	}
}

func TestPassDisabled(t *testing.T) {
	t.Run("never managed: nothing touched, nothing reported", func(t *testing.T) {
		r := newRig(t, map[string]string{"Name": "web", "serialpass:user": "ops"})
		res := r.agent.Pass(context.Background())
		if !res.OK() || res.Status != StatusDisabled || res.Reported {
			t.Fatalf("pass = %+v", res)
		}
		if r.state.saves != 0 || len(r.reporter.reports) != 0 || r.secrets.calls != 0 {
			t.Errorf("saves=%d reports=%d secret calls=%d, want 0", r.state.saves, len(r.reporter.reports), r.secrets.calls)
		}
	})
	t.Run("never managed: no state directory or lock file either", func(t *testing.T) {
		r := newRig(t, map[string]string{"Name": "web"})
		root := t.TempDir()
		r.agent.State = NewFileState(root)
		if res := r.agent.Pass(context.Background()); !res.OK() || res.Status != StatusDisabled {
			t.Fatalf("pass = %+v", res)
		}
		if entries, _ := os.ReadDir(root); len(entries) != 0 {
			t.Errorf("the pass left %v under the root", entries)
		}
	})
	t.Run("managed before: reports disabled once", func(t *testing.T) {
		r := newRig(t, map[string]string{"serialpass:secret": "s"})
		r.secrets.put("s", "v1", goodPW)
		if res := r.agent.Pass(context.Background()); !res.OK() {
			t.Fatal(res.Err)
		}
		r.tags.tags = map[string]string{}
		for i := range 2 {
			res := r.agent.Pass(context.Background())
			if !res.OK() || res.Status != StatusDisabled || res.Reported != (i == 0) {
				t.Fatalf("pass %d = %+v", i, res)
			}
		}
		if got := r.reporter.reports[1]["serialpass:status"]; got != "disabled" {
			t.Errorf("status = %q", got)
		}
	})
}

func TestPassFailures(t *testing.T) {
	t.Run("tags not enabled in metadata", func(t *testing.T) {
		r := newRig(t, nil)
		r.tags.err = fmt.Errorf("GET tags/instance: 404: %w", ErrTagsDisabled)
		res := r.agent.Pass(context.Background())
		if res.OK() || !strings.Contains(res.Reason, "tags are not enabled in instance metadata") {
			t.Fatalf("pass = %+v", res)
		}
		if !errors.Is(res.Err, ErrTagsDisabled) {
			t.Errorf("err %v does not wrap ErrTagsDisabled", res.Err)
		}
	})
	t.Run("chpasswd fails: a new account is rolled back", func(t *testing.T) {
		r := newRig(t, map[string]string{"serialpass:secret": "s"})
		r.secrets.put("s", "v1", goodPW)
		r.accounts.setErr = fmt.Errorf("running chpasswd: exit status 1: chpasswd: line 1: %s", goodPW)
		res := r.agent.Pass(context.Background())
		if res.OK() || r.accounts.accounts["ec2-serial"] != nil {
			t.Fatalf("pass = %+v, account left behind", res)
		}
		if strings.Contains(res.Reason, goodPW) || strings.Contains(res.Err.Error(), goodPW) {
			t.Errorf("reason %q leaks the password", res.Reason)
		}
		if got := strings.Join(r.accounts.calls, ","); got != "Create,SetPassword,Delete" {
			t.Errorf("calls = %s", got)
		}
	})
	t.Run("report fails: non-zero, retried next pass", func(t *testing.T) {
		r := newRig(t, map[string]string{"serialpass:secret": "s"})
		r.secrets.put("s", "v1", goodPW)
		r.reporter.err = errors.New("RequestLimitExceeded")
		if res := r.agent.Pass(context.Background()); res.OK() || res.Status != StatusReady {
			t.Fatalf("pass = %+v, want ready but not OK", res)
		}
		r.reporter.err = nil
		if res := r.agent.Pass(context.Background()); !res.OK() || !res.Reported {
			t.Fatalf("retry = %+v, want reported", res)
		}
	})
	t.Run("the same failure gives the same reason", func(t *testing.T) {
		r := newRig(t, map[string]string{"serialpass:secret": "s"})
		for i, id := range []string{"1b2c3d4e-aaaa-bbbb-cccc-0123456789ab", "9f8e7d6c-aaaa-bbbb-cccc-0123456789ab"} {
			r.secrets.err = fmt.Errorf("operation error Secrets Manager: GetSecretValue, https response error StatusCode: 400, RequestID: %s, ThrottlingException: Rate exceeded: %w", id, ErrThrottled)
			res := r.agent.Pass(context.Background())
			if strings.Contains(res.Reason, id) || res.Reported != (i == 0) {
				t.Errorf("pass %d: reason %q, reported %v", i, res.Reason, res.Reported)
			}
			if !errors.Is(res.Err, ErrThrottled) {
				t.Errorf("err does not wrap ErrThrottled")
			}
		}
	})
	t.Run("reason is one line of at most 256 characters", func(t *testing.T) {
		r := newRig(t, map[string]string{"serialpass:secret": "s"})
		r.secrets.err = errors.New(strings.Repeat("very long\nmessage ", 50))
		res := r.agent.Pass(context.Background())
		if n := len([]rune(res.Reason)); n > MaxReasonLen || strings.ContainsAny(res.Reason, "\n\r") {
			t.Errorf("reason has %d runes or a newline: %q", n, res.Reason)
		}
	})
}
