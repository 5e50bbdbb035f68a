package e2e_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/serialpass/serialpass/agent/wtmp"
	"github.com/serialpass/serialpass/internal/testbed"
)

// doctorCheck is one line of `serialpass doctor --json`.
type doctorCheck struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	Why    string `json:"why"`
	Fix    string `json:"fix"`
}

// doctorJSON runs `serialpass doctor --json --root ROOT` plus args and
// returns its exit code, its checks by name, and its output.
func (w *world) doctorJSON(args ...string) (code int, checks map[string]doctorCheck, stdout, stderr string) {
	w.t.Helper()
	code, stdout, stderr = w.run(append([]string{"doctor", "--json"}, args...)...)
	var list []doctorCheck
	if err := json.Unmarshal([]byte(stdout), &list); err != nil {
		w.t.Fatalf("doctor --json printed no JSON array (%v): %s\nstderr: %s", err, stdout, stderr)
	}
	checks = map[string]doctorCheck{}
	for _, c := range list {
		if _, dup := checks[c.Name]; dup {
			w.t.Errorf("check %q listed twice", c.Name)
		}
		checks[c.Name] = c
	}
	return code, checks, stdout, stderr
}

// wantChecks compares the checks' levels with want ("" = absent).
func wantChecks(t *testing.T, checks map[string]doctorCheck, want map[string]string) {
	t.Helper()
	for name, level := range want {
		c, ok := checks[name]
		switch {
		case level == "" && ok:
			t.Errorf("unexpected check %+v", c)
		case level != "" && c.Status != level:
			t.Errorf("%s = %q (%s), want %q", name, c.Status, c.Why, level)
		}
	}
}

// secretExists asks moto directly (not through the counting proxy).
func secretExists(t *testing.T, m *testbed.Moto, name string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := secretsmanager.NewFromConfig(m.AWSConfig(t)).DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(name)})
	var nf *smtypes.ResourceNotFoundException
	if errors.As(err, &nf) {
		return false
	}
	if err != nil {
		t.Fatalf("describing %s in moto: %v", name, err)
	}
	return true
}

// The checks every run here shares: the IMDSv2 emulator enforces tokens
// and serves tags, a role and a Nitro type; moto answers CreateTags with
// DryRunOperation; the sandbox root has console=ttyS0 and no sshd.
var doctorBase = map[string]string{
	"IMDS reachable": "pass", "IMDSv2 enforced": "pass", "tags in metadata": "pass", "instance role": "pass",
	"instance type": "pass", "CreateTags allowed": "pass", "serial console access": "warn",
	"kernel console": "pass", "serial getty": "pass", "sshd drop-in": "pass",
}

func with(base map[string]string, more map[string]string) map[string]string {
	m := maps.Clone(base)
	maps.Copy(m, more)
	return m
}

// TestDoctorEndToEnd runs the built binary's doctor against moto and the
// IMDSv2 emulator, in pull and rotate mode, in both output formats.
func TestDoctorEndToEnd(t *testing.T) {
	moto := testbed.StartMoto(t)

	t.Run("pull mode, ready instance", func(t *testing.T) {
		const pw = "D0ctor-Pull-Pass"
		w := newWorld(t, moto, "i-0e2e00000000d0c01", map[string]string{"serialpass:secret": "fleet/doctor", "Name": "web-1"})
		moto.CreateSecret(t, "fleet/doctor", `{"username":"ec2-serial","password":"`+pw+`"}`)
		if code, _, errOut := w.once(); code != 0 {
			t.Fatalf("once exited %d: %s", code, errOut)
		}
		w.proxy.Reset()
		code, checks, out, errOut := w.doctorJSON()
		if code != 0 {
			t.Errorf("doctor exited %d with nothing failing, want 0; stderr %s", code, errOut)
		}
		wantChecks(t, checks, with(doctorBase, map[string]string{
			"secret described": "pass", "secret readable": "pass", "rotate permissions": "",
			"managed user": "pass", "pam_access": "pass",
		}))
		if why := checks["tags in metadata"].Why; !strings.Contains(why, "mode pull, secret fleet/doctor, user ec2-serial") {
			t.Errorf("tags in metadata says %q", why)
		}
		if why := checks["CreateTags allowed"].Why; !strings.Contains(why, "DryRun") || !strings.Contains(why, w.instance) {
			t.Errorf("CreateTags allowed says %q", why)
		}
		// An emulator gap, not a product bug: moto answers
		// GetSerialConsoleAccessStatus with HTTP 500, so doctor can only
		// say "unknown" (a warning, never a pass or a failure).
		if why := checks["serial console access"].Why; !strings.HasPrefix(why, "unknown") || !strings.Contains(why, "500") {
			t.Errorf("serial console access says %q, want unknown (moto's HTTP 500)", why)
		}
		// Pull mode reads the secret once with each call, and the DryRun
		// tagged nothing.
		if got, want := w.proxy.Counts(), map[string]int{"DescribeSecret": 1, "GetSecretValue": 1, "CreateTags": 1, "GetSerialConsoleAccessStatus": 1}; !maps.Equal(got, want) {
			t.Errorf("AWS calls = %v, want %v", got, want)
		}
		if v := moto.InstanceTags(t, w.instance)["serialpass:status"]; v != "ready" {
			t.Errorf("status tag = %q after doctor, want the agent's ready (the DryRun must not tag)", v)
		}

		code, table, tableErr := w.run("doctor")
		if code != 0 {
			t.Errorf("doctor (table) exited %d, want 0; stderr %s", code, tableErr)
		}
		checkTable(t, table, len(checks))
		for _, line := range []string{"✓ IMDSv2 enforced ", "✓ tags in metadata ", "✓ secret readable ", "✓ CreateTags allowed ", "! serial console access  unknown"} {
			if !strings.Contains(table, line) {
				t.Errorf("table lacks %q:\n%s", line, table)
			}
		}
		noLeak(t, pw, map[string]string{"json": out, "stderr": errOut, "table": table, "table stderr": tableErr})
	})

	t.Run("pull mode, secret missing", func(t *testing.T) {
		w := newWorld(t, moto, "i-0e2e00000000d0c02", map[string]string{"serialpass:secret": "fleet/absent"})
		code, checks, _, errOut := w.doctorJSON()
		if code == 0 {
			t.Errorf("doctor exited 0 with the secret missing; stderr %s", errOut)
		}
		wantChecks(t, checks, with(doctorBase, map[string]string{"secret described": "fail", "secret readable": "fail", "rotate permissions": ""}))
		if why := checks["secret readable"].Why; !strings.Contains(why, "fleet/absent") || !strings.Contains(why, "not found") {
			t.Errorf("secret readable says %q", why)
		}
		code, table, _ := w.run("doctor")
		if code == 0 {
			t.Error("doctor (table) exited 0 with the secret missing")
		}
		checkTable(t, table, len(checks))
		if !strings.Contains(table, "✗ secret readable ") {
			t.Errorf("table lacks ✗ secret readable:\n%s", table)
		}
	})

	t.Run("rotate mode", func(t *testing.T) {
		w := newWorld(t, moto, "i-0e2e00000000d0c03", map[string]string{"serialpass:mode": "rotate"})
		// console_only off: before the first pass nothing on the host
		// fails, so doctor's exit code shows the missing secret is no
		// failure in rotate mode.
		cfg := w.config("console_only: false\n")
		code, checks, _, errOut := w.doctorJSON("--config", cfg)
		if code != 0 {
			t.Errorf("doctor exited %d before the first pass, want 0; stderr %s", code, errOut)
		}
		wantChecks(t, checks, with(doctorBase, map[string]string{
			"secret described": "warn", "rotate permissions": "warn", "secret readable": "",
			"managed user": "warn", "console-only login": "warn", "pam_access": "", "sshd drop-in": "",
		}))
		if why := checks["tags in metadata"].Why; !strings.Contains(why, "mode rotate, secret "+w.secretName()+" (the config's secret_template)") {
			t.Errorf("tags in metadata says %q", why)
		}
		if why := checks["secret described"].Why; !strings.Contains(why, w.secretName()+" does not exist yet: it will be created on the first pass; needs secretsmanager:CreateSecret") {
			t.Errorf("secret described says %q", why)
		}
		if why := checks["rotate permissions"].Why; !strings.Contains(why, "PutSecretValue and UpdateSecretVersionStage") {
			t.Errorf("rotate permissions says %q", why)
		}
		if got, want := w.proxy.Counts(), map[string]int{"DescribeSecret": 1, "CreateTags": 1, "GetSerialConsoleAccessStatus": 1}; !maps.Equal(got, want) {
			t.Errorf("AWS calls = %v, want %v (no GetSecretValue, nothing written)", got, want)
		}
		// The sandbox root has no login records: post-use rotation
		// (rotate_after_use, on by default) could never happen.
		if c := checks["login records"]; c.Status != "warn" || !strings.Contains(c.Why, "neither") || !strings.Contains(c.Fix, "/var/log/wtmp") {
			t.Errorf("login records = %+v, want a warning with the fix", c)
		}
		if secretExists(t, moto, w.secretName()) {
			t.Error("doctor created the secret")
		}
		if _, ok := moto.InstanceTags(t, w.instance)["serialpass:status"]; ok {
			t.Error("the DryRun CreateTags tagged the instance")
		}

		if code, _, errOut := w.once("--config", cfg); code != 0 {
			t.Fatalf("once exited %d: %s", code, errOut)
		}
		pw, current := w.stagePassword("AWSCURRENT")
		w.proxy.Reset()
		code, checks, out, errOut := w.doctorJSON("--config", cfg)
		if code != 0 {
			t.Errorf("doctor exited %d after the first pass, want 0; stderr %s", code, errOut)
		}
		wantChecks(t, checks, with(doctorBase, map[string]string{
			"secret described": "pass", "rotate permissions": "warn", "secret readable": "", "managed user": "pass",
			"console-only login": "warn", "pam_access": "", "sshd drop-in": "",
		}))
		if why := checks["secret described"].Why; !strings.Contains(why, "AWSCURRENT on version "+current[:8]) {
			t.Errorf("secret described says %q, want AWSCURRENT on %s", why, current[:8])
		}
		if n := w.proxy.Count("GetSecretValue"); n != 0 {
			t.Errorf("doctor called GetSecretValue %d times in rotate mode", n)
		}
		if c := checks["login records"]; c.Status != "warn" {
			t.Errorf("login records = %+v, want a warning (still none)", c)
		}

		// A login that logrotate moved into wtmp.1 counts.
		w.appendWtmp(wtmp.Record{Type: wtmp.UserProcess, PID: 700, Line: "ttyS0", ID: "S0", User: "ec2-serial", Time: time.Now().UTC()})
		if err := os.Rename(filepath.Join(w.root, "var/log/wtmp"), filepath.Join(w.root, "var/log/wtmp.1")); err != nil {
			t.Fatal(err)
		}
		_, rotated, _, _ := w.doctorJSON("--config", cfg)
		if c := rotated["login records"]; c.Status != "pass" || !strings.Contains(c.Why, "wtmp.1: 1 records") {
			t.Errorf("login records = %+v, want a pass reading wtmp.1", c)
		}
		// And so do the logins Debian 13's pam_wtmpdb records in wtmpdb's database.
		w.wtmpdb(fmt.Sprintf(`INSERT INTO wtmp (Type,User,Login,TTY,Service) VALUES(3,'ec2-serial',%d,'ttyS0','login');`, time.Now().UnixMicro()))
		_, both, _, _ := w.doctorJSON("--config", cfg)
		if c := both["login records"]; c.Status != "pass" || !strings.Contains(c.Why, "wtmp.1 and "+filepath.Join(w.root, "var/lib/wtmpdb/wtmp.db")+": 2 records") {
			t.Errorf("login records = %+v, want a pass reading wtmp.1 and the wtmpdb database", c)
		}
		_, off, _, _ := w.doctorJSON("--config", w.config("console_only: false\nrotate_after_use: 0s\n"))
		wantChecks(t, off, map[string]string{"login records": ""})
		code, table, tableErr := w.run("doctor", "--config", cfg)
		if code != 0 {
			t.Errorf("doctor (table) exited %d, want 0", code)
		}
		checkTable(t, table, len(checks))
		for _, line := range []string{"✓ secret described ", "! rotate permissions ", "! console-only login "} {
			if !strings.Contains(table, line) {
				t.Errorf("table lacks %q:\n%s", line, table)
			}
		}
		noLeak(t, pw, map[string]string{"json": out, "stderr": errOut, "table": table, "table stderr": tableErr})
	})
}

// checkTable: one line per check, each a symbol (✓ ! ✗), a space and the
// name padded so that every reason starts in the same column.
func checkTable(t *testing.T, table string, n int) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(table, "\n"), "\n")
	if len(lines) != n {
		t.Errorf("table has %d lines, want %d (one per check):\n%s", len(lines), n, table)
	}
	col := -1
	for _, l := range lines {
		sym, rest, ok := strings.Cut(l, " ")
		if !ok || (sym != "✓" && sym != "!" && sym != "✗") {
			t.Errorf("line %q does not start with ✓, ! or ✗", l)
			continue
		}
		// The name ends at the first run of two spaces.
		i := strings.Index(rest, "  ")
		if i < 0 {
			t.Errorf("line %q has no reason column", l)
			continue
		}
		start := utf8.RuneCountInString(rest[:i]) + len(rest[i:]) - len(strings.TrimLeft(rest[i:], " "))
		if col == -1 {
			col = start
		} else if start != col {
			t.Errorf("reason of %q starts at column %d, others at %d:\n%s", l, start, col, table)
		}
	}
}
