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
// recording logins in wtmpdb's database) in rotate mode and runs the LAPS
// cycle on it: the packaged agent creates the instance's own secret with a
// password it generated; a person logs in on ttyS0 with the password read
// from moto and logs out; the agent, reading that session from wtmpdb's
// database (the only place Debian 13 records it) under the hardened unit,
// rotates the password rotate_after_use after the logout; then the old
// password is refused on ttyS0 and the new one, read from moto again, logs
// in. The 10-minute rule is met by moving the agent's record of its last
// rotation back, as test/e2e does. serialpass is installed the tarball
// way: its binary only, and `serialpass install` and `serialpass start`
// at first boot (kardianos/service on the live systemd); `serialpass
// uninstall` at the end takes the unit away again.
func TestRotateModeOnDebian13(t *testing.T) {
	start, repo, base, deb := prepare(t, testbed.TrixieCached, testbed.Trixie)

	moto := testbed.StartMoto(t)
	imds := startIMDS(t, repo, rotateInstance, map[string]string{"serialpass:mode": "rotate"})
	root := tarballRoot(t, base, deb)
	writeFile(t, filepath.Join(root, "etc/default/serialpass"), "AWS_ENDPOINT_URL=http://169.254.169.253:4566\n")
	// The AMI owner's config: a pass every 10 s, rotation 5 s after use.
	writeFile(t, filepath.Join(root, "etc/serialpass/config.yaml"), "interval: 10s\nrotate_after_use: 5s\n")

	dir := t.TempDir()
	pwFile, pwFile2 := filepath.Join(dir, "pw"), filepath.Join(dir, "pw2")
	ctx, cancel := context.WithCancel(context.Background())
	found := make(chan string, 2)
	go feedPasswords(ctx, secretsmanager.NewFromConfig(moto.AWSConfig(t)), []string{pwFile, pwFile2}, found)
	vm := vmRun{root: root, script: "rotate.exp", args: []string{user, pwFile, pwFile2},
		imds: imds, api: strings.TrimPrefix(moto.Endpoint, "http://")}
	text := vm.boot(t, start)
	cancel()
	var passwords []string
	for pw := range found {
		passwords = append(passwords, pw)
	}

	for _, c := range []struct{ name, re string }{
		{"the script's pass marker", `(?m)^VMTEST-PASS\r*$`},
		{"id as the console user", `uid=\d+\(` + user + `\)`},
		{"the agent's state after the reload", `last pass:\s+ready at `},
		{"wtmpdb's record of the first session, ended", `(?m)^ec2-seri\s+ttyS0\s+.*\d\d:\d\d:\d\d \d{4} - \w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4}`},
		{"wtmpdb's record of the second session, open", `ec2-seri\s+ttyS0\s+.* - still logged in`},
		{"the agent's log lines", `serialpass\[\d+\]: time=\S+ level=INFO `},
		{"the rotation after use in the journal", `serialpass\[\d+\]: time=\S+ level=INFO msg=rotating [^\n]*why="the user's login session ended"`},
		{"the old password refused", `VMTEST-OLD-REFUSED \d+`},
		{"doctor exiting 0", `DOCTOR-EXIT=0\r*\n`},
		{"the unit serialpass install wrote", `UNIT /etc/systemd/system/serialpass\.service`},
		{"service-status after uninstall", `not installed\s+SERVICE-EXIT=4`},
		{"no unit after uninstall", `UNIT-AFTER-UNINSTALL=1`},
		{"doctor reading the login records", `✓ login records +/var/log/wtmp and /var/lib/wtmpdb/wtmp\.db: \d+ records; the password is rotated 5s after each use`},
		{"doctor: the secret", `✓ secret described +`},
		{"the new password logging in", `VMTEST-RELOGGEDIN \d+`},
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
	if len(passwords) != 2 {
		t.Errorf("saw %d passwords in moto, want the first and the rotated one", len(passwords))
	}
	for i, pw := range passwords {
		if strings.Contains(text, pw) {
			t.Errorf("password %d appears in the serial log", i+1)
		}
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
	if err != nil || last.Before(loggedIn.Add(-30*time.Second)) || last.After(time.Now()) {
		t.Errorf("serialpass:status:last-login = %q, want a login on the VM, the first just before %s", tags["serialpass:status:last-login"], loggedIn.UTC().Format(time.RFC3339))
	}
	secretTags, versions := describeSecret(t, moto)
	if secretTags["serialpass:instance-id"] != rotateInstance || secretTags["serialpass:user"] != user {
		t.Errorf("the secret's tags = %v, want serialpass:instance-id and serialpass:user", secretTags)
	}
	if versions != 2 {
		t.Errorf("%d versions of the secret, want 2 (made, then rotated once after use)", versions)
	}
}

// feedPasswords writes each new AWSCURRENT password of the agent's secret
// in moto to the next of files (mode 0600), for the expect script, and to
// found: the one the agent made, then each rotation's.
func feedPasswords(ctx context.Context, sm *secretsmanager.Client, files []string, found chan<- string) {
	defer close(found)
	seen := ""
	for len(files) > 0 {
		// The stage is named: moto 5.2 answers a GetSecretValue without
		// one with the secret's first version even after
		// UpdateSecretVersionStage moved AWSCURRENT (AWS answers
		// AWSCURRENT's; the agent always names the stage).
		out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(rotateSecret), VersionStage: aws.String("AWSCURRENT")})
		if err == nil && aws.ToString(out.VersionId) != seen {
			var v struct{ Password string }
			if json.Unmarshal([]byte(aws.ToString(out.SecretString)), &v) == nil && v.Password != "" {
				if os.WriteFile(files[0], []byte(v.Password), 0o600) != nil {
					return
				}
				found <- v.Password
				seen, files = aws.ToString(out.VersionId), files[1:]
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
