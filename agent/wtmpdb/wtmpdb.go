// Package wtmpdb reads login sessions from wtmpdb's database,
// var/lib/wtmpdb/wtmp.db: where distributions that left the Y2038-unsafe
// utmp format record logins (Debian 13's pam_wtmpdb in common-session,
// openSUSE). It reads the SQLite file itself, read-only and without
// locks, so that it can never delay or fail the login that is being
// recorded; it implements agent.SessionSource.
package wtmpdb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/serialpass/serialpass/agent"
)

// Entry types of wtmpdb's wtmp table (include/wtmpdb.h).
const (
	BootTime    = 1
	UserProcess = 3
)

// Entry is one row of the wtmp table. Times are microseconds since the
// epoch in the file; a zero Logout is NULL (still logged in, or the
// system went down without saying so).
type Entry struct {
	Type    int64
	User    string
	Login   time.Time
	Logout  time.Time
	TTY     string
	Host    string
	Service string
}

// Entries decodes the wtmp table of a wtmpdb database image.
func Entries(db []byte) ([]Entry, error) {
	im, err := openImage(db)
	if err != nil {
		return nil, err
	}
	root, cols, err := im.table("wtmp")
	if err != nil {
		return nil, err
	}
	idx := map[string]int{}
	for i, c := range cols {
		idx[c] = i
	}
	for _, c := range []string{"Type", "User", "Login", "Logout", "TTY"} {
		if _, ok := idx[c]; !ok {
			return nil, fmt.Errorf("table wtmp has no column %s (columns %q)", c, cols)
		}
	}
	var out []Entry
	err = im.rows(root, func(rec []any) error {
		col := func(name string) any {
			if i, ok := idx[name]; ok && i < len(rec) {
				return rec[i]
			}
			return nil
		}
		typ, _ := col("Type").(int64)
		user, _ := col("User").(string)
		tty, _ := col("TTY").(string)
		host, _ := col("RemoteHost").(string)
		service, _ := col("Service").(string)
		out = append(out, Entry{Type: typ, User: user, Login: usec(col("Login")), Logout: usec(col("Logout")),
			TTY: tty, Host: host, Service: service})
		return nil
	})
	return out, err
}

// usec turns a microsecond count into a time; NULL or anything else is
// the zero time.
func usec(v any) time.Time {
	n, ok := v.(int64)
	if !ok || n <= 0 {
		return time.Time{}
	}
	return time.UnixMicro(n).UTC()
}

// Sessions returns user's sessions, oldest first. A session without a
// logout time ends at the next boot after it began (the system went down
// under it); otherwise it is still open.
func Sessions(entries []Entry, user string) []agent.Session {
	var boots []time.Time
	for _, e := range entries {
		if e.Type == BootTime && !e.Login.IsZero() {
			boots = append(boots, e.Login)
		}
	}
	slices.SortFunc(boots, time.Time.Compare)
	var out []agent.Session
	for _, e := range entries {
		if e.Type != UserProcess || e.User != user || e.Login.IsZero() {
			continue
		}
		s := agent.Session{User: e.User, Line: e.TTY, Login: e.Login, Logout: e.Logout}
		if s.Logout.IsZero() {
			if i, _ := slices.BinarySearchFunc(boots, e.Login, time.Time.Compare); i < len(boots) && boots[i].After(e.Login) {
				s.Logout = boots[i]
			}
		}
		out = append(out, s)
	}
	slices.SortStableFunc(out, func(a, b agent.Session) int { return a.Login.Compare(b.Login) })
	return out
}

// DB is the wtmpdb database of a root.
type DB struct {
	Root string
	// Path is the database inside Root.
	Path string
}

var _ agent.SessionSource = DB{}

// New returns the wtmpdb database of root, /var/lib/wtmpdb/wtmp.db.
func New(root string) DB { return DB{Root: root, Path: "/var/lib/wtmpdb/wtmp.db"} }

// Paths lists the file DB reads, under the root (the link the tools
// open, not its target).
func (d DB) Paths() []string { return []string{filepath.Join(d.Root, d.Path)} }

// LoginRecords reports whether the database exists and how many entries
// it holds (doctor's check that post-use rotation can see logins).
func (d DB) LoginRecords() (found []string, records int, err error) {
	es, ok, err := d.Entries()
	if err != nil || !ok {
		return nil, 0, err
	}
	return d.Paths(), len(es), nil
}

// Sessions reads user's sessions; no database means none.
func (d DB) Sessions(_ context.Context, user string) ([]agent.Session, error) {
	es, _, err := d.Entries()
	if err != nil {
		return nil, err
	}
	return Sessions(es, user), nil
}

// maxSize bounds the file read into memory (wtmpdb rotates its database;
// a year of logins of a busy host is a few megabytes).
const maxSize = 256 << 20

// snapshotTries is how often Entries reads the file when a write
// transaction overlapped the read, snapshotPause apart.
const (
	snapshotTries = 3
	snapshotPause = 50 * time.Millisecond
)

// Entries reads the database's wtmp table; ok is false when there is no
// database. Without taking SQLite's locks (a reader holding them could make
// the PAM module's write at a login fail), it reads a consistent snapshot:
// in rollback-journal mode a writer changes the file only while a hot
// journal exists beside it and bumps the change counter before it deletes
// the journal, so a read that starts and ends with no journal, and whose
// counter is still the file's, saw one committed state.
func (d DB) Entries() (entries []Entry, ok bool, err error) {
	p, err := d.resolve()
	if err != nil {
		return nil, false, fmt.Errorf("reading login records %q: %w", d.Path, err)
	}
	for try := range snapshotTries {
		if try > 0 {
			time.Sleep(snapshotPause) // a write transaction takes milliseconds
		}
		data, exists, err := readSnapshot(p)
		switch {
		case err != nil:
			return nil, false, fmt.Errorf("reading login records %q: %w", d.Path, err)
		case !exists:
			return nil, false, nil
		case data == nil:
			continue // a write overlapped: read again
		case len(data) == 0:
			return nil, true, nil // SQLite's empty database: no records yet
		}
		es, err := Entries(data)
		if err != nil {
			return nil, true, fmt.Errorf("reading login records %q: %w", d.Path, err)
		}
		return es, true, nil
	}
	return nil, true, fmt.Errorf("reading login records %q: it was being written during %d reads (or a journal left by a crash is beside it)", d.Path, snapshotTries)
}

// readSnapshot reads the file at p; data is nil when a write transaction
// overlapped the read.
func readSnapshot(p string) (data []byte, exists bool, err error) {
	if busy, err := hotJournal(p); err != nil || busy {
		return nil, true, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	data, err = io.ReadAll(io.LimitReader(f, maxSize+1))
	if err != nil {
		return nil, true, err
	}
	if len(data) > maxSize {
		return nil, true, fmt.Errorf("larger than %d MB", maxSize>>20)
	}
	if len(data) == 0 {
		return []byte{}, true, nil
	}
	if len(data) < 100 {
		return nil, true, fmt.Errorf("not an SQLite database (%d bytes)", len(data))
	}
	im, err := openImage(data)
	if err != nil {
		return nil, true, err
	}
	if im.walMode() {
		if fi, err := os.Stat(p + "-wal"); err == nil && fi.Size() > 0 {
			return nil, true, errors.New("in write-ahead-log mode with a -wal file: not supported")
		}
	}
	if busy, err := hotJournal(p); err != nil || busy {
		return nil, true, err
	}
	head := make([]byte, 100)
	if _, err := f.ReadAt(head, 0); err != nil {
		return nil, true, err
	}
	if changeCounter(head) != changeCounter(data) {
		return nil, true, nil
	}
	return data, true, nil
}

// hotJournal tells whether a rollback journal beside p may be in use: a
// non-empty -journal file whose header is not zeroed (journal_mode
// PERSIST zeroes it at commit, TRUNCATE empties it, DELETE removes it).
func hotJournal(p string) (bool, error) {
	f, err := os.Open(p + "-journal")
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	head := make([]byte, 8) // the journal header's magic number
	n, err := io.ReadFull(f, head)
	if n == 0 && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) {
		return false, nil
	}
	return !bytes.Equal(head[:n], make([]byte, n)), nil
}

// resolve returns the database's path under the root, following symbolic
// links inside the root (Debian links /var/lib/wtmpdb/wtmp.db to
// ../../log/wtmp.db); an absolute link target is taken as inside the root.
func (d DB) resolve() (string, error) {
	rel := d.Path
	for range 8 {
		p := filepath.Join(d.Root, rel)
		fi, err := os.Lstat(p)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			return p, nil
		}
		target, err := os.Readlink(p)
		if err != nil {
			return "", err
		}
		if filepath.IsAbs(target) {
			rel = target
		} else {
			rel = filepath.Join(filepath.Dir(rel), target)
		}
	}
	return "", errors.New("too many levels of symbolic links")
}
