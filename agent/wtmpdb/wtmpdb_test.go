package wtmpdb

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/serialpass/serialpass/agent"
)

var t0 = time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)

func at(h float64) time.Time { return t0.Add(time.Duration(h * float64(time.Hour))) }

func TestSessions(t *testing.T) {
	boot := func(h float64) Entry { return Entry{Type: BootTime, User: "reboot", TTY: "~", Login: at(h)} }
	login := func(user, tty string, in, out float64) Entry {
		e := Entry{Type: UserProcess, User: user, TTY: tty, Login: at(in)}
		if out > 0 {
			e.Logout = at(out)
		}
		return e
	}
	session := func(tty string, in, out float64) agent.Session {
		s := agent.Session{User: "ec2-serial", Line: tty, Login: at(in)}
		if out > 0 {
			s.Logout = at(out)
		}
		return s
	}
	for _, tc := range []struct {
		name    string
		entries []Entry
		want    []agent.Session
	}{
		{"none", nil, nil},
		{"closed", []Entry{boot(0), login("ec2-serial", "ttyS0", 1, 1.5)}, []agent.Session{session("ttyS0", 1, 1.5)}},
		{"open", []Entry{boot(0), login("ec2-serial", "ttyS0", 1, 0)}, []agent.Session{session("ttyS0", 1, 0)}},
		{"open until the next boot (a crash)", []Entry{boot(0), login("ec2-serial", "ttyS0", 1, 0), boot(3)},
			[]agent.Session{session("ttyS0", 1, 3)}},
		{"the first boot after it, not the last", []Entry{boot(0), login("ec2-serial", "ttyS0", 1, 0), boot(5), boot(3)},
			[]agent.Session{session("ttyS0", 1, 3)}},
		{"a boot before it does not end it", []Entry{boot(2), login("ec2-serial", "ttyS0", 3, 0)}, []agent.Session{session("ttyS0", 3, 0)}},
		{"other users and types left out", []Entry{login("admin", "pts/0", 1, 2), {Type: 2, User: "ec2-serial", Login: at(1)}, login("ec2-serial", "ttyS0", 4, 5)},
			[]agent.Session{session("ttyS0", 4, 5)}},
		{"oldest first", []Entry{login("ec2-serial", "ttyS0", 6, 7), login("ec2-serial", "tty1", 2, 3)},
			[]agent.Session{session("tty1", 2, 3), session("ttyS0", 6, 7)}},
		{"no login time left out", []Entry{{Type: UserProcess, User: "ec2-serial", TTY: "ttyS0"}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Sessions(tc.entries, "ec2-serial"); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Sessions =\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}

// rootWithDB lays out Debian 13's database (var/lib/wtmpdb/wtmp.db a
// relative link to ../../log/wtmp.db) in a new root, with the SQL's rows.
func rootWithDB(t *testing.T, sql, link string) (root, file string) {
	t.Helper()
	root = t.TempDir()
	file = filepath.Join(root, "var/log/wtmp.db")
	if err := os.MkdirAll(filepath.Join(root, "var/lib/wtmpdb"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(sqliteFile(t, sql))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(link, filepath.Join(root, "var/lib/wtmpdb/wtmp.db")); err != nil {
		t.Fatal(err)
	}
	return root, file
}

func TestDB(t *testing.T) {
	rows := schema + `INSERT INTO wtmp (Type, User, Login, TTY) VALUES (1, 'reboot', 1764489600000000, '~');
INSERT INTO wtmp (Type, User, Login, Logout, TTY, Service) VALUES (3, 'ec2-serial', 1764493200000000, 1764495000000000, 'ttyS0', 'login');`
	want := []agent.Session{{User: "ec2-serial", Line: "ttyS0", Login: time.UnixMicro(1764493200000000).UTC(), Logout: time.UnixMicro(1764495000000000).UTC()}}
	for _, tc := range []struct {
		name    string
		link    string
		prepare func(t *testing.T, file string)
		want    []agent.Session
		wantErr string
	}{
		{name: "Debian's relative link", link: "../../log/wtmp.db", want: want},
		{name: "an absolute link stays in the root", link: "/var/log/wtmp.db", want: want},
		{name: "an empty journal is no transaction", link: "../../log/wtmp.db", want: want, prepare: func(t *testing.T, file string) {
			writeFile(t, file+"-journal", nil)
		}},
		{name: "a zeroed journal header (journal_mode PERSIST) is none", link: "../../log/wtmp.db", want: want, prepare: func(t *testing.T, file string) {
			writeFile(t, file+"-journal", make([]byte, 512))
		}},
		{name: "a journal in use", link: "../../log/wtmp.db", wantErr: "being written", prepare: func(t *testing.T, file string) {
			writeFile(t, file+"-journal", append([]byte{0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7}, make([]byte, 504)...))
		}},
		{name: "WAL mode with a -wal file", link: "../../log/wtmp.db", wantErr: "write-ahead-log", prepare: func(t *testing.T, file string) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, file, patch(data, 18, 2, 2))
			writeFile(t, file+"-wal", make([]byte, 32))
		}},
		{name: "not a database", link: "../../log/wtmp.db", wantErr: "not an SQLite database", prepare: func(t *testing.T, file string) {
			writeFile(t, file, []byte("garbage"))
		}},
		{name: "no database", link: "../../log/absent.db", want: nil},
		{name: "an empty file (SQLite's empty database)", link: "../../log/wtmp.db", want: nil, prepare: func(t *testing.T, file string) {
			writeFile(t, file, nil)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, file := rootWithDB(t, rows, tc.link)
			if tc.prepare != nil {
				tc.prepare(t, file)
			}
			got, err := New(root).Sessions(context.Background(), "ec2-serial")
			switch {
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Sessions err = %v, want %q", err, tc.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			case !reflect.DeepEqual(got, tc.want):
				t.Errorf("Sessions = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestLoginRecords(t *testing.T) {
	root, _ := rootWithDB(t, schema+manyRows(12), "../../log/wtmp.db")
	found, n, err := New(root).LoginRecords()
	if err != nil || n != 12 || !reflect.DeepEqual(found, []string{filepath.Join(root, "var/lib/wtmpdb/wtmp.db")}) {
		t.Errorf("LoginRecords = %q, %d, %v; want the database with 12 records", found, n, err)
	}
	found, n, err = New(t.TempDir()).LoginRecords()
	if err != nil || n != 0 || found != nil {
		t.Errorf("LoginRecords without a database = %q, %d, %v; want nothing", found, n, err)
	}
}

func writeFile(t *testing.T, p string, data []byte) {
	t.Helper()
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
