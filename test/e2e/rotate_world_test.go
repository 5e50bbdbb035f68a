package e2e_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/serialpass/serialpass/agent/wtmp"
	"github.com/serialpass/serialpass/internal/testbed"
)

// Helpers of the rotate-mode tests: reading the per-instance secret
// straight from moto (not through the proxy), editing the state file as
// time would, and running the binary in the background.

func (w *world) secretName() string { return "serialpass/" + w.instance }

// stagePassword returns the password and VersionId held by stage.
func (w *world) stagePassword(stage string) (pw, versionID string) {
	w.t.Helper()
	// Always with VersionStage: moto's default version goes stale.
	value, versionID := w.secretValue(&secretsmanager.GetSecretValueInput{VersionStage: aws.String(stage)}, stage)
	var v struct{ Username, Password string }
	if err := json.Unmarshal([]byte(value), &v); err != nil || v.Username != "ec2-serial" || v.Password == "" {
		w.t.Fatalf("%s of %s is not {username, password} for ec2-serial (%v)", stage, w.secretName(), err)
	}
	return v.Password, versionID
}

// secretValue reads one version of the instance's secret straight from
// moto: in names the version or stage (the secret id is filled in), what
// says which for an error.
func (w *world) secretValue(in *secretsmanager.GetSecretValueInput, what string) (value, versionID string) {
	w.t.Helper()
	c := secretsmanager.NewFromConfig(w.moto.AWSConfig(w.t))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	in.SecretId = aws.String(w.secretName())
	out, err := c.GetSecretValue(ctx, in)
	if err != nil {
		w.t.Fatalf("reading %s of %s: %v", what, w.secretName(), err)
	}
	return aws.ToString(out.SecretString), aws.ToString(out.VersionId)
}

// checkRotateInvariant: the local hash verifies AWSCURRENT, no version
// other than AWSCURRENT's holds AWSPENDING (none does, once settled), and
// the status tag is ready with AWSCURRENT's version. It returns that
// version and the number of versions moto keeps.
func (w *world) checkRotateInvariant() (current string, versions int) {
	w.t.Helper()
	pw, cur := w.stagePassword("AWSCURRENT")
	if !testbed.VerifyPassword(w.t, testbed.ShadowHash(w.t, w.root, "ec2-serial"), pw) {
		w.t.Errorf("the local hash does not verify AWSCURRENT (%s)", cur)
	}
	stages := w.moto.SecretStages(w.t, w.secretName())
	for v, st := range stages {
		if slices.Contains(st, "AWSPENDING") {
			w.t.Errorf("AWSPENDING left on version %s %v", v, st)
		}
	}
	tags := w.moto.InstanceTags(w.t, w.instance)
	if tags["serialpass:status"] != "ready" || tags["serialpass:status:version"] != cur {
		w.t.Errorf("status tags = %v, want ready with %s", tags, cur)
	}
	return cur, len(stages)
}

// state reads the state file as JSON fields.
func (w *world) state() map[string]any {
	w.t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(w.read("var/lib/serialpass/state.json")), &m); err != nil {
		w.t.Fatalf("state file: %v", err)
	}
	return m
}

// ageState moves the last rotation back by d, as if time had passed:
// the agent never rotates a secret twice within 10 minutes.
func (w *world) ageState(d time.Duration) {
	w.t.Helper()
	m := w.state()
	last, err := time.Parse(time.RFC3339Nano, m["last_rotation"].(string))
	if err != nil {
		w.t.Fatalf("last_rotation: %v", err)
	}
	m["last_rotation"] = last.Add(-d).Format(time.RFC3339Nano)
	b, _ := json.Marshal(m)
	if err := os.WriteFile(filepath.Join(w.root, "var/lib/serialpass/state.json"), b, 0o600); err != nil {
		w.t.Fatal(err)
	}
}

// start runs serialpass in the background; the caller waits for it.
func (w *world) start(args ...string) *exec.Cmd {
	w.t.Helper()
	cmd := exec.Command(w.bin, append(args, "--root", w.root)...)
	cmd.Env = w.env
	if err := cmd.Start(); err != nil {
		w.t.Fatalf("starting serialpass: %v", err)
	}
	return cmd
}

// run runs serialpass with args and --root, returning the exit code.
func (w *world) run(args ...string) (code int, stdout, stderr string) {
	w.t.Helper()
	cmd := exec.Command(w.bin, append(args, "--root", w.root)...)
	cmd.Env = w.env
	out, err := cmd.Output()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		return exit.ExitCode(), string(out), string(exit.Stderr)
	default:
		w.t.Fatalf("running serialpass: %v", err)
	}
	return 0, string(out), ""
}

// appendWtmp adds login records to the root's var/log/wtmp.
func (w *world) appendWtmp(recs ...wtmp.Record) {
	w.t.Helper()
	p := filepath.Join(w.root, "var/log/wtmp")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		w.t.Fatal(err)
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o664)
	if err != nil {
		w.t.Fatal(err)
	}
	defer f.Close()
	for _, r := range recs {
		if _, err := f.Write(wtmp.Encode(r)); err != nil {
			w.t.Fatal(err)
		}
	}
}

// wtmpdb runs SQL on the root's wtmpdb database as pam_wtmpdb does, with
// the SQLite library (testbed.SQLite), in Debian 13's layout:
// var/log/wtmp.db, linked from var/lib/wtmpdb/wtmp.db. The table is
// wtmpdb's own (lib/sqlite.c).
func (w *world) wtmpdb(sql string) {
	w.t.Helper()
	link := filepath.Join(w.root, "var/lib/wtmpdb/wtmp.db")
	if _, err := os.Lstat(link); err != nil {
		for _, d := range []string{"var/log", "var/lib/wtmpdb"} {
			if err := os.MkdirAll(filepath.Join(w.root, d), 0o755); err != nil {
				w.t.Fatal(err)
			}
		}
		if err := os.Symlink("../../log/wtmp.db", link); err != nil {
			w.t.Fatal(err)
		}
	}
	const table = `CREATE TABLE IF NOT EXISTS wtmp(ID INTEGER PRIMARY KEY, Type INTEGER, User TEXT NOT NULL, Login INTEGER, Logout INTEGER, TTY TEXT, RemoteHost TEXT, Service TEXT) STRICT;`
	testbed.SQLite(w.t, filepath.Join(w.root, "var/log/wtmp.db"), table+sql)
}
