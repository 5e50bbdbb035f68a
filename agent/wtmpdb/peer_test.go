package wtmpdb

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/serialpass/serialpass/agent/wtmp"
	"github.com/serialpass/serialpass/internal/testbed"
)

// TestAgainstWtmpdb holds the reader to wtmpdb itself. Debian 13's wtmpdb
// 0.73 (a copy of the cached trixie root of the VM test, run in a chroot) writes the database, with
// its own library: it imports a legacy wtmp file of logins and logouts,
// then records a boot. After each step its `wtmpdb last --json` reading of
// the database must agree with ours, entry for entry: logins, logouts,
// sessions still open, and sessions a boot cut short ("crash", which we
// end at that boot).
func TestAgainstWtmpdb(t *testing.T) {
	testbed.Exclusive(t)
	root := testbed.CopyRoot(t, testbed.Trixie(t))
	const inRoot = "/tmp/serialpass-wtmpdb"
	dir := filepath.Join(root, inRoot)
	for _, d := range []string{"var/log", "var/lib/wtmpdb"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Debian 13's layout: the database lives in /var/log, linked from
	// where the tools look for it.
	if err := os.Symlink("../../log/wtmp.db", filepath.Join(dir, "var/lib/wtmpdb/wtmp.db")); err != nil {
		t.Fatal(err)
	}
	dbFile := inRoot + "/var/lib/wtmpdb/wtmp.db"

	day := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	legacy := []wtmp.Record{
		{Type: wtmp.UserProcess, PID: 100, Line: "ttyS0", ID: "S0", User: "ec2-serial", Time: day.Add(time.Hour)},
		{Type: wtmp.DeadProcess, PID: 100, Line: "ttyS0", ID: "S0", Time: day.Add(90 * time.Minute)},
		{Type: wtmp.UserProcess, PID: 200, Line: "pts/0", ID: "ts/0", User: "admin", Host: "10.0.0.9", Time: day.Add(2 * time.Hour)},
		{Type: wtmp.UserProcess, PID: 300, Line: "ttyS0", ID: "S0", User: "ec2-serial", Time: day.Add(3 * time.Hour)},
		{Type: wtmp.DeadProcess, PID: 200, Line: "pts/0", ID: "ts/0", Time: day.Add(4 * time.Hour)},
		{Type: wtmp.UserProcess, PID: 400, Line: "tty1", ID: "tty1", User: "ec2-serial", Time: day.Add(5 * time.Hour)},
	}
	var data []byte
	for _, r := range legacy {
		data = append(data, wtmp.Encode(r)...)
	}
	if err := os.WriteFile(filepath.Join(dir, "legacy"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	chroot(t, root, "wtmpdb", "import", "-f", dbFile, inRoot+"/legacy")
	db := DB{Root: dir, Path: "/var/lib/wtmpdb/wtmp.db"}

	t.Run("imported logins", func(t *testing.T) {
		theirs := agree(t, root, db, dbFile)
		if n := strings.Count(theirs, `"logout": "still logged in`); n != 2 {
			t.Errorf("wtmpdb lists %d sessions still open, want 2 (the scenario changed?)\n%s", n, theirs)
		}
	})
	chroot(t, root, "wtmpdb", "boot", "-f", dbFile)
	t.Run("after a boot", func(t *testing.T) {
		theirs := agree(t, root, db, dbFile)
		if n := strings.Count(theirs, `"logout": "crash`); n != 2 {
			t.Errorf("wtmpdb lists %d crashed sessions, want 2\n%s", n, theirs)
		}
	})
}

// lastEntry is one entry of `wtmpdb last --json`.
type lastEntry struct {
	User   string `json:"user"`
	TTY    string `json:"tty"`
	Login  string `json:"login"`
	Logout string `json:"logout"`
}

// agree compares wtmpdb's reading of the database with ours and returns
// wtmpdb's JSON.
func agree(t *testing.T, root string, db DB, dbFile string) string {
	t.Helper()
	out := chroot(t, root, "wtmpdb", "last", "--json", "--system", "--time-format", "iso", "-f", dbFile)
	var last struct {
		Entries []lastEntry `json:"entries"`
	}
	if err := json.Unmarshal([]byte(out), &last); err != nil {
		t.Fatalf("wtmpdb last --json: %v\n%s", err, out)
	}
	es, ok, err := db.Entries()
	if err != nil || !ok {
		t.Fatalf("Entries = %v, %v", ok, err)
	}
	var ours []Entry
	var boots int
	for _, e := range es {
		switch e.Type {
		case UserProcess:
			ours = append(ours, e)
		case BootTime:
			boots++
		}
	}
	var theirs []lastEntry
	for _, e := range last.Entries {
		if e.TTY == "system boot" {
			boots--
			continue
		}
		theirs = append(theirs, e)
	}
	if boots != 0 || len(theirs) != len(ours) {
		t.Fatalf("wtmpdb lists %d logins and %d more boots than we read; we read %d logins:\n%s", len(theirs), -boots, len(ours), out)
	}
	sessions := map[string][]Entry{}
	for _, e := range ours {
		sessions[e.User] = append(sessions[e.User], e)
	}
	for _, w := range theirs {
		e, found := find(ours, w)
		if !found {
			t.Errorf("wtmpdb lists %+v; we read no such login", w)
			continue
		}
		var ended time.Time
		for _, s := range Sessions(es, e.User) {
			if s.Line == e.TTY && s.Login.Equal(e.Login) {
				ended = s.Logout
			}
		}
		switch logout := strings.TrimSpace(w.Logout); logout {
		case "still logged in":
			if !e.Logout.IsZero() || !ended.IsZero() {
				t.Errorf("%+v: wtmpdb says still logged in; we read logout %v, session end %v", w, e.Logout, ended)
			}
		case "crash":
			if !e.Logout.IsZero() || ended.IsZero() {
				t.Errorf("%+v: wtmpdb says a boot cut it short; we read logout %v, session end %v", w, e.Logout, ended)
			}
		default:
			if got := e.Logout.Format(isoLayout); got != logout || !ended.Equal(e.Logout) {
				t.Errorf("%+v: we read logout %s, session end %v", w, got, ended)
			}
		}
	}
	return out
}

// isoLayout is wtmpdb's --time-format iso (in a root without a time zone:
// UTC).
const isoLayout = "2006-01-02T15:04:05-0700"

func find(ours []Entry, w lastEntry) (Entry, bool) {
	for _, e := range ours {
		if e.User == w.User && e.TTY == w.TTY && e.Login.Format(isoLayout) == w.Login {
			return e, true
		}
	}
	return Entry{}, false
}

func chroot(t *testing.T, root string, argv ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "chroot", append([]string{root}, argv...)...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "TZ=UTC"}
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("chroot %s: %v\n%s%s", strings.Join(argv, " "), err, out, stderr)
	}
	return string(out)
}
