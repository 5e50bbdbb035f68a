package console

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/serialpass/serialpass/agent"
)

func TestBanner(t *testing.T) {
	at := time.Date(2026, 12, 3, 10, 4, 5, 0, time.FixedZone("x", 3600))
	tests := []struct {
		name      string
		res       agent.Result
		wantLine  string
		wantIssue []string // "" entries: the issue file is absent
	}{
		{
			name:      "ready",
			res:       agent.Result{Status: agent.StatusReady, User: "ec2-serial", Secret: "prod/serial", VersionID: "a1b2c3d4-e5f6-7890-abcd-ef0123456789"},
			wantLine:  "serialpass: ready user=ec2-serial secret=prod/serial version=a1b2c3d4 at 2026-12-03T09:04:05Z",
			wantIssue: []string{"log in as ec2-serial", "secret prod/serial"},
		},
		{
			name:      "error",
			res:       agent.Result{Status: agent.StatusError, User: "ec2-serial", Secret: `odd\name`, Reason: "kernel console is not on ttyS0"},
			wantLine:  `serialpass: error kernel console is not on ttyS0 at 2026-12-03T09:04:05Z`,
			wantIssue: []string{"NOT ready: kernel console is not on ttyS0", `secret odd\\name`},
		},
		{
			name:     "disabled",
			res:      agent.Result{Status: agent.StatusDisabled},
			wantLine: "serialpass: disabled (no secret tag) at 2026-12-03T09:04:05Z",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			writeFile(t, filepath.Join(root, IssuePath), "stale\n")
			c := New(root, &fakeRunner{})
			if err := c.Banner(context.Background(), tt.res, at); err != nil {
				t.Fatal(err)
			}
			if err := c.Banner(context.Background(), tt.res, at); err != nil {
				t.Fatal(err)
			}
			log := readFile(t, filepath.Join(root, BannerLog))
			if log != tt.wantLine+"\n"+tt.wantLine+"\n" {
				t.Errorf("console got %q, want the line twice: %q", log, tt.wantLine)
			}
			if tt.wantIssue == nil {
				if c.exists(IssuePath) {
					t.Error("issue file left behind")
				}
				return
			}
			issue := readFile(t, filepath.Join(root, IssuePath))
			for _, w := range tt.wantIssue {
				if !strings.Contains(issue, w) {
					t.Errorf("issue %q lacks %q", issue, w)
				}
			}
		})
	}
}

func TestBannerNeverShowsThePassword(t *testing.T) {
	pw := agent.NewPassword("hunter2-very-secret")
	res := agent.Result{Status: agent.StatusError, User: "ec2-serial", Secret: "s",
		Err: errors.New("chpasswd said hunter2-very-secret is bad")}
	res.Reason = agent.Reason(res.Err, pw)
	line := BannerLine(res, time.Unix(0, 0))
	if strings.Contains(line, "hunter2") || strings.Contains(issueText(res), "hunter2") {
		t.Errorf("password shown: %q", line)
	}
}

func TestBannerConsolePath(t *testing.T) {
	root := t.TempDir()
	c := New(root, &fakeRunner{})
	c.ConsolePath = filepath.Join(root, "console")
	res := agent.Result{Status: agent.StatusReady, User: "u", Secret: "s", VersionID: "v1"}
	if err := c.Banner(context.Background(), res, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, c.ConsolePath); got != "serialpass: ready user=u secret=s version=v1 at 1970-01-01T00:00:00Z\n" {
		t.Errorf("console = %q", got)
	}
}

func TestAccount(t *testing.T) {
	now := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	today := now.Unix() / 86400
	d := func(n int64) string { return strconv.FormatInt(n, 10) }
	tests := []struct {
		name, shadow string
		exists       bool
		problem      string
	}{
		{"fine", "ec2-serial:" + sha512Hash + ":" + d(today-1) + ":0:99999:7:::", true, ""},
		{"locked", "ec2-serial:!" + sha512Hash + ":" + d(today-1) + ":0:99999:7:::", true, "locked"},
		{"no password", "ec2-serial:!:" + d(today-1) + ":0:99999:7:::", true, "locked"},
		{"account expired", "ec2-serial:" + sha512Hash + ":" + d(today-1) + ":0:99999:7::" + d(today-1) + ":", true, "has expired"},
		{"password expired", "ec2-serial:" + sha512Hash + ":" + d(today-100) + ":0:30:7:::", true, "expired password"},
		{"must change", "ec2-serial:" + sha512Hash + ":0:0:99999:7:::", true, "must change"},
		{"missing", "", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			passwd := "root:x:0:0:root:/root:/bin/bash\n"
			if tt.exists {
				passwd += "ec2-serial:x:1001:1001::/home/ec2-serial:/bin/bash\n"
			}
			writeFile(t, filepath.Join(root, "etc/passwd"), passwd)
			writeFile(t, filepath.Join(root, "etc/shadow"), "root:*:19000:0:99999:7:::\n"+tt.shadow+"\n")
			got, err := New(root, &fakeRunner{}).Account("ec2-serial", now)
			if err != nil {
				t.Fatal(err)
			}
			if got.Exists != tt.exists || (tt.problem == "") != (got.Problem == "") || !strings.Contains(got.Problem, tt.problem) {
				t.Errorf("= %+v, want exists %v, problem %q", got, tt.exists, tt.problem)
			}
		})
	}
}
