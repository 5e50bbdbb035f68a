package vm_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/serialpass/serialpass/internal/testbed"
)

// rotateInstance is the Debian 13 VM's instance id; its secret is the
// default template's.
const (
	rotateInstance = "i-0123456789abcdef1"
	rotateSecret   = "serialpass/" + rotateInstance
)

// TestRotateModeOnDebian13 boots Debian 13 (systemd 257, pam_wtmpdb
// recording logins in wtmpdb's database) in rotate mode, the LAPS model:
// the packaged agent creates the instance's own secret with a password it
// generated, a person logs in on ttyS0 with the password read from moto,
// logs out and in again, and the agent, woken by systemctl reload under
// the hardened unit, reads those sessions from wtmpdb's database (the
// only place Debian 13 records them) and reports the last login in the
// serialpass:status:last-login tag. The
// rotation after use itself waits for the 10-minute rule, longer than a
// VM test; test/e2e covers it with wtmpdb records.
func TestRotateModeOnDebian13(t *testing.T) {
	if os.Getenv("SERIALPASS_SKIP_VM") == "1" {
		t.Skip("SERIALPASS_SKIP_VM=1")
	}
	needVMTools(t)
	start := time.Now()
	repo := testbed.RepoRoot(t)
	cached := testbed.TrixieCached()
	defer func() { checkWallTime(t, time.Since(start), cached) }()
	base := testbed.Trixie(t)
	deb := buildDeb(t, repo)
	t.Logf("root and package ready after %s", time.Since(start).Round(time.Second))

	moto := testbed.StartMoto(t)
	imds := startIMDS(t, repo, rotateInstance, map[string]string{"serialpass:mode": "rotate"})
	root := guestRoot(t, base, deb, controlUser, "Ctl-"+randomHex(t, 12))
	writeFile(t, filepath.Join(root, "etc/default/serialpass"), "AWS_ENDPOINT_URL=http://169.254.169.253:4566\n")

	pwFile := filepath.Join(t.TempDir(), "pw")
	ctx, cancel := context.WithCancel(context.Background())
	found := make(chan string, 1)
	go feedPassword(ctx, secretsmanager.NewFromConfig(moto.AWSConfig(t)), pwFile, found)
	vm := vmRun{root: root, script: "rotate.exp", args: []string{user, pwFile},
		imds: imds, api: strings.TrimPrefix(moto.Endpoint, "http://")}
	text := vm.boot(t, start)
	cancel()
	pw := <-found

	for _, c := range []struct{ name, re string }{
		{"the script's pass marker", `(?m)^VMTEST-PASS\r*$`},
		{"id as the console user", `uid=\d+\(` + user + `\)`},
		{"the agent's state after the reload", `last pass:\s+ready at `},
		{"wtmpdb's record of the first session, ended", `(?m)^ec2-seri\s+ttyS0\s+.*\d\d:\d\d:\d\d \d{4} - \w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4}`},
		{"wtmpdb's record of the second session, open", `ec2-seri\s+ttyS0\s+.* - still logged in`},
		{"the agent's log lines", `serialpass\[\d+\]: time=\S+ level=INFO `},
		{"no failed units", `FAILED-UNITS=0\r*\n`},
	} {
		if !regexp.MustCompile(c.re).MatchString(text) {
			t.Errorf("serial log lacks %s (%s)", c.name, c.re)
		}
	}
	// Debian 13's login writes no session of the user to /var/log/wtmp
	// (agetty's records of ttyS0 only): the last login below can only come
	// from wtmpdb's database.
	if regexp.MustCompile(`(?m)^\s+\d+ ` + user + `\r*$`).MatchString(text) {
		t.Error("/var/log/wtmp records the user's logins too: this test no longer shows the wtmpdb reader at work")
	}
	if !regexp.MustCompile(`RECORDS /var/log/wtmp\.db \d+ bytes`).MatchString(text) {
		t.Error("the guest has no /var/log/wtmp.db")
	}
	for _, line := range unexpectedLines(text) {
		// The first pass creates the secret: a rotation, announced while
		// it is open.
		if strings.Contains(line.text, "serialpass: rotating user="+user) {
			continue
		}
		t.Errorf("serial log shows %s: %q", line.what, line.text)
	}
	switch {
	case pw == "":
		t.Error("the agent's secret never appeared in moto")
	case strings.Contains(text, pw):
		t.Error("the console password appears in the serial log")
	}

	tags := moto.InstanceTags(t, rotateInstance)
	if tags["serialpass:status"] != "ready" {
		t.Errorf("serialpass:status tag = %q, want ready", tags["serialpass:status"])
	}
	m := regexp.MustCompile(`LOGIN-AT=(\d+)`).FindStringSubmatch(text)
	if m == nil {
		t.Fatal("the script printed no LOGIN-AT")
	}
	sec, _ := strconv.ParseInt(m[1], 10, 64)
	loggedIn := time.Unix(sec, 0)
	last, err := time.Parse(time.RFC3339, tags["serialpass:status:last-login"])
	if err != nil || last.Before(loggedIn.Add(-30*time.Second)) || last.After(loggedIn) {
		t.Errorf("serialpass:status:last-login = %q, want the second login, just before %s", tags["serialpass:status:last-login"], loggedIn.UTC().Format(time.RFC3339))
	}
	secretTags, versions := describeSecret(t, moto)
	if secretTags["serialpass:instance-id"] != rotateInstance || secretTags["serialpass:user"] != user {
		t.Errorf("the secret's tags = %v, want serialpass:instance-id and serialpass:user", secretTags)
	}
	if versions != 1 {
		t.Errorf("%d versions of the secret, want 1 (the 10-minute rule holds the rotation after use)", versions)
	}
}

// feedPassword waits for the agent's secret in moto and writes its
// password to pwFile (mode 0600) for the expect script, and to found.
func feedPassword(ctx context.Context, sm *secretsmanager.Client, pwFile string, found chan<- string) {
	defer close(found)
	for {
		out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(rotateSecret)})
		if err == nil {
			var v struct{ Password string }
			if json.Unmarshal([]byte(aws.ToString(out.SecretString)), &v) == nil && v.Password != "" {
				if os.WriteFile(pwFile, []byte(v.Password), 0o600) == nil {
					found <- v.Password
				}
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// describeSecret returns the agent's secret's tags and how many versions
// it has.
func describeSecret(t *testing.T, m *testbed.Moto) (map[string]string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sm := secretsmanager.NewFromConfig(m.AWSConfig(t))
	out, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(rotateSecret)})
	if err != nil {
		t.Fatalf("describing the secret: %v", err)
	}
	tags := map[string]string{}
	for _, tag := range out.Tags {
		tags[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
	}
	return tags, len(out.VersionIdsToStages)
}
