package wtmpdb

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/serialpass/serialpass/internal/testbed"
)

// The files these tests read are written by the SQLite library itself,
// through Python's sqlite3 module (the library the distributions' wtmpdb
// links; Python is on every machine that runs moto), so that b-tree
// shapes, overflow chains and page sizes are SQLite's, not our idea of
// them.

// schema is wtmpdb's own CREATE TABLE (lib/sqlite.c).
const schema = `CREATE TABLE IF NOT EXISTS wtmp(ID INTEGER PRIMARY KEY, Type INTEGER, User TEXT NOT NULL, Login INTEGER, Logout INTEGER, TTY TEXT, RemoteHost TEXT, Service TEXT) STRICT;`

// sqliteFile runs sql with the SQLite library on a new database and
// returns its path.
func sqliteFile(t *testing.T, sql string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "wtmp.db")
	testbed.SQLite(t, p, sql)
	return p
}

func readEntries(t *testing.T, p string) ([]Entry, error) {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return Entries(data)
}

// manyRows inserts n logins of seven users, one second apart, with
// values the test can recompute (see wantRow).
func manyRows(n int) string {
	return fmt.Sprintf(`WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM k WHERE i < %d)
INSERT INTO wtmp (Type, User, Login, Logout, TTY, RemoteHost, Service)
SELECT 3, 'user' || (i %% 7), 1700000000000000 + i * 1000000, 1700000000000000 + i * 1000000 + 500000, 'pts/' || i, '10.0.' || (i %% 250) || '.1', 'sshd' FROM k;`, n)
}

func wantRow(i int) Entry {
	login := time.UnixMicro(1700000000000000 + int64(i)*1000000).UTC()
	return Entry{Type: UserProcess, User: fmt.Sprintf("user%d", i%7), Login: login, Logout: login.Add(500 * time.Millisecond),
		TTY: fmt.Sprintf("pts/%d", i), Host: fmt.Sprintf("10.0.%d.1", i%250), Service: "sshd"}
}

func TestEntriesFromSQLite(t *testing.T) {
	// bigHost is 20,000 bytes: far more than a page, so the row spills
	// into an overflow chain of several pages.
	var b strings.Builder
	for j := range 4000 {
		fmt.Fprintf(&b, "%05d", j)
	}
	bigHost := b.String()
	bigRow := func(groups int) string {
		return fmt.Sprintf(`WITH RECURSIVE k(j) AS (SELECT 0 UNION ALL SELECT j+1 FROM k WHERE j < %d)
INSERT INTO wtmp (Type, User, Login, Logout, TTY, RemoteHost, Service)
SELECT 3, 'big', 1700000000000000, NULL, 'ttyS0', (SELECT group_concat(printf('%%05d', j), '') FROM k), 'login';`, groups-1)
	}
	// With 4096-byte pages, a payload of about 8,400 bytes leaves more on
	// the last overflow page than fits the leaf, so SQLite keeps only the
	// minimum local part on the leaf (the K > X case of the file format).
	minLocalHost := bigHost[:5*1675]
	for _, tc := range []struct {
		name string
		sql  string
		n    int // rows 1..n of manyRows, in order
		// extra checks the entries beyond the first n.
		extra func(t *testing.T, rest []Entry)
	}{
		{name: "one page", sql: schema + manyRows(20), n: 20},
		{name: "interior pages (4096-byte pages)", sql: schema + manyRows(3000), n: 3000},
		{name: "512-byte pages, deeper tree", sql: "PRAGMA page_size=512;" + schema + manyRows(2000), n: 2000},
		{name: "65536-byte pages", sql: "PRAGMA page_size=65536;" + schema + manyRows(3000), n: 3000},
		{name: "1024-byte pages", sql: "PRAGMA page_size=1024;" + schema + manyRows(500), n: 500},
		{name: "overflow chain", sql: schema + manyRows(10) + bigRow(4000), n: 10, extra: func(t *testing.T, rest []Entry) {
			if len(rest) != 1 || rest[0].Host != bigHost || rest[0].User != "big" || !rest[0].Logout.IsZero() {
				t.Errorf("the overflowing row came back wrong: %d rows, host of %d bytes", len(rest), len(rest[0].Host))
			}
		}},
		{name: "overflow chain, 512-byte pages", sql: "PRAGMA page_size=512;" + schema + manyRows(10) + bigRow(4000), n: 10, extra: func(t *testing.T, rest []Entry) {
			if len(rest) != 1 || rest[0].Host != bigHost {
				t.Errorf("the overflowing row came back wrong")
			}
		}},
		{name: "overflow chain, minimum local part", sql: schema + manyRows(10) + bigRow(1675), n: 10, extra: func(t *testing.T, rest []Entry) {
			if len(rest) != 1 || rest[0].Host != minLocalHost {
				t.Errorf("the overflowing row came back wrong")
			}
		}},
		{name: "columns in another order", sql: `CREATE TABLE wtmp(Service TEXT, Logout INTEGER, User TEXT NOT NULL, ID INTEGER PRIMARY KEY, TTY TEXT, Login INTEGER, RemoteHost TEXT, Type INTEGER);` + manyRows(50), n: 50},
		{name: "a column added later", sql: `CREATE TABLE wtmp(ID INTEGER PRIMARY KEY, Type INTEGER, User TEXT NOT NULL, Login INTEGER, Logout INTEGER, TTY TEXT, RemoteHost TEXT);
INSERT INTO wtmp (Type, User, Login, TTY) VALUES (3, 'old', 1700000000000000, 'tty1');
ALTER TABLE wtmp ADD COLUMN Service TEXT;
INSERT INTO wtmp (Type, User, Login, TTY, Service) VALUES (3, 'new', 1700000001000000, 'tty2', 'login');`, extra: func(t *testing.T, rest []Entry) {
			if len(rest) != 2 || rest[0].User != "old" || rest[0].Service != "" || rest[1].Service != "login" {
				t.Errorf("rows = %+v", rest)
			}
		}},
		{name: "other tables beside it", sql: `CREATE TABLE boot(x); INSERT INTO boot VALUES (1);` + schema + `CREATE INDEX byuser ON wtmp(User);` + manyRows(100), n: 100},
		{name: "rows deleted (free pages)", sql: schema + manyRows(3000) + `DELETE FROM wtmp WHERE ID > 1000;`, n: 1000},
		{name: "WAL mode, checkpointed", sql: "PRAGMA journal_mode=WAL;" + schema + manyRows(300), n: 300},
	} {
		t.Run(tc.name, func(t *testing.T) {
			es, err := readEntries(t, sqliteFile(t, tc.sql))
			if err != nil {
				t.Fatal(err)
			}
			if len(es) < tc.n {
				t.Fatalf("%d entries, want at least %d", len(es), tc.n)
			}
			for i := range tc.n {
				if es[i] != wantRow(i+1) {
					t.Fatalf("entry %d = %+v, want %+v", i, es[i], wantRow(i+1))
				}
			}
			rest := es[tc.n:]
			if tc.extra != nil {
				tc.extra(t, rest)
			} else if len(rest) != 0 {
				t.Errorf("%d entries beyond the %d inserted", len(rest), tc.n)
			}
		})
	}
}

func TestEntriesRefuses(t *testing.T) {
	good, err := os.ReadFile(sqliteFile(t, schema+manyRows(3000)))
	if err != nil {
		t.Fatal(err)
	}
	noTable, _ := os.ReadFile(sqliteFile(t, `CREATE TABLE logins(User TEXT);`))
	noColumn, _ := os.ReadFile(sqliteFile(t, `CREATE TABLE wtmp(ID INTEGER PRIMARY KEY, User TEXT);`))
	utf16, _ := os.ReadFile(sqliteFile(t, `PRAGMA encoding='UTF-16le';`+schema+manyRows(3)))
	for _, tc := range []struct {
		name, want string
		data       []byte
	}{
		{"empty", "no SQLite 3 header", nil},
		{"not SQLite", "no SQLite 3 header", []byte(strings.Repeat("wtmp", 100))},
		{"truncated", "outside the file", good[:8192]},
		{"no wtmp table", `no table "wtmp"`, noTable},
		{"no Login column", "no column", noColumn},
		{"UTF-16 text", "not UTF-8", utf16},
		{"bad page size", "page size", patch(good, 16, 0x03, 0x00)},
		{"page 1 not a b-tree", "not a table b-tree page", patch(good, 100, 0x07)},
		{"cell offset out of the page", "cell", patch(good, 108, 0xff, 0xff)},
		{"a page reached twice", "reached twice", selfLoop(t, good)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Entries(tc.data)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Entries = %v, want an error with %q", err, tc.want)
			}
		})
	}
	t.Run("malformed wraps errMalformed", func(t *testing.T) {
		if _, err := Entries(good[:8192]); !errors.Is(err, errMalformed) {
			t.Errorf("err = %v, want errMalformed", err)
		}
	})
}

// patch returns a copy of data with b written at off.
func patch(data []byte, off int, b ...byte) []byte {
	out := append([]byte(nil), data...)
	copy(out[off:], b)
	return out
}

// selfLoop points the wtmp table's root (an interior page: 3000 rows do
// not fit one page) at itself through its right-most child pointer.
func selfLoop(t *testing.T, data []byte) []byte {
	t.Helper()
	im, err := openImage(data)
	if err != nil {
		t.Fatal(err)
	}
	root, _, err := im.table("wtmp")
	if err != nil {
		t.Fatal(err)
	}
	off := int(root-1) * im.pageSize
	if data[off] != 0x05 {
		t.Fatalf("root page %d has type %#x, want an interior page", root, data[off])
	}
	return patch(data, off+8, byte(root>>24), byte(root>>16), byte(root>>8), byte(root))
}

// FuzzEntries feeds the reader arbitrary files: it must return entries
// or an error, never panic or run away. Seeds: a database wtmpdb 0.73
// wrote (Debian 13, the peer test's scenario after a boot) and one with
// 512-byte pages, interior pages and an overflowing row.
func FuzzEntries(f *testing.F) {
	for _, name := range []string{"wtmpdb-0.73.db", "small-pages.db"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		es, err := Entries(data)
		if err != nil {
			return
		}
		_ = Sessions(es, "ec2-serial")
	})
}

func TestSeeds(t *testing.T) {
	for _, tc := range []struct {
		name          string
		entries, open int
	}{
		{"wtmpdb-0.73.db", 5, 0}, // four logins, then a boot: every open session crashed
		{"small-pages.db", 42, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			es, err := readEntries(t, filepath.Join("testdata", tc.name))
			if err != nil || len(es) != tc.entries {
				t.Fatalf("%d entries, err %v; want %d", len(es), err, tc.entries)
			}
			open := 0
			for _, s := range Sessions(es, "ec2-serial") {
				if s.Logout.IsZero() {
					open++
				}
			}
			if open != tc.open {
				t.Errorf("%d open sessions of ec2-serial, want %d", open, tc.open)
			}
		})
	}
}
