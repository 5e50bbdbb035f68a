// Package wtmp reads login sessions from the system's own records: the
// utmp-format file var/log/wtmp, as login(1), the getty and sshd write it,
// and var/log/wtmp.1 that logrotate leaves beside it. It implements
// agent.SessionSource.
package wtmp

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/serialpass/serialpass/agent"
)

// RecordSize is sizeof(struct utmp) on Linux x86_64 and arm64 (glibc,
// 32-bit time fields for compatibility).
const RecordSize = 384

// Record types (ut_type).
const (
	RunLevel    = 1
	BootTime    = 2
	UserProcess = 7
	DeadProcess = 8
)

// Offsets of struct utmp's fields.
const (
	offType = 0   // short
	offPID  = 4   // pid_t
	offLine = 8   // char[32]
	offID   = 40  // char[4]
	offUser = 44  // char[32]
	offHost = 76  // char[256]
	offTime = 340 // int32 tv_sec, int32 tv_usec
)

// Record is one utmp record, the fields sessions need.
type Record struct {
	Type int16
	PID  int32
	Line string
	ID   string
	User string
	Host string
	Time time.Time
}

// Parse decodes whole records; a trailing partial record (a write in
// progress) is ignored.
func Parse(data []byte) []Record {
	out := make([]Record, 0, len(data)/RecordSize)
	for len(data) >= RecordSize {
		out = append(out, decode(data[:RecordSize]))
		data = data[RecordSize:]
	}
	return out
}

func decode(b []byte) Record {
	le := binary.LittleEndian
	sec := le.Uint32(b[offTime:]) // unsigned: good until 2106
	usec := le.Uint32(b[offTime+4:]) % 1_000_000
	return Record{
		Type: int16(le.Uint16(b[offType:])),
		PID:  int32(le.Uint32(b[offPID:])),
		Line: cstr(b[offLine : offLine+32]),
		ID:   cstr(b[offID : offID+4]),
		User: cstr(b[offUser : offUser+32]),
		Host: cstr(b[offHost : offHost+256]),
		Time: time.Unix(int64(sec), int64(usec)*1000).UTC(),
	}
}

// Encode renders r as a record, for tests and tools that write wtmp.
func Encode(r Record) []byte {
	b := make([]byte, RecordSize)
	le := binary.LittleEndian
	le.PutUint16(b[offType:], uint16(r.Type))
	le.PutUint32(b[offPID:], uint32(r.PID))
	copy(b[offLine:offLine+32], r.Line)
	copy(b[offID:offID+4], r.ID)
	copy(b[offUser:offUser+32], r.User)
	copy(b[offHost:offHost+256], r.Host)
	le.PutUint32(b[offTime:], uint32(r.Time.Unix()))
	le.PutUint32(b[offTime+4:], uint32(r.Time.Nanosecond()/1000))
	return b
}

func cstr(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// Sessions pairs user's logins with their ends: a DEAD_PROCESS record on
// the same line, or a reboot or shutdown record, which ends every session
// open at that time. Sessions come oldest first; open ones have a zero
// Logout.
func Sessions(recs []Record, user string) []agent.Session {
	var out []agent.Session
	open := map[string]int{} // line -> index in out
	endAll := func(t time.Time) {
		for line, i := range open {
			out[i].Logout = t
			delete(open, line)
		}
	}
	for _, r := range recs {
		switch {
		case r.Type == UserProcess && r.Line != "":
			if i, ok := open[r.Line]; ok { // a new login ends the old one
				out[i].Logout = r.Time
				delete(open, r.Line)
			}
			if r.User == user {
				open[r.Line] = len(out)
				out = append(out, agent.Session{User: r.User, Line: r.Line, Login: r.Time})
			}
		case r.Type == DeadProcess && r.Line != "":
			if i, ok := open[r.Line]; ok {
				out[i].Logout = r.Time
				delete(open, r.Line)
			}
		case r.Type == BootTime, r.Type == RunLevel && r.User == "shutdown":
			endAll(r.Time)
		}
	}
	return out
}

// File is a wtmp file under a root, read together with the copy logrotate
// leaves beside it (Path + ".1"): a session whose login was rotated away
// still ends in the current file.
type File struct {
	Path string
}

var _ agent.SessionSource = File{}

// New returns the wtmp file of root (var/log/wtmp).
func New(root string) File { return File{Path: filepath.Join(root, "var", "log", "wtmp")} }

// Paths lists the files File reads, older first: the rotated wtmp.1,
// then wtmp.
func (f File) Paths() []string { return []string{f.Path + ".1", f.Path} }

// Records reads wtmp.1 and wtmp, older first, and returns their records
// and the files that exist. Missing files are no records; each file's
// trailing partial record is dropped on its own.
func (f File) Records() (recs []Record, found []string, err error) {
	for _, p := range f.Paths() {
		data, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("reading login records %q: %w", p, err)
		}
		found = append(found, p)
		recs = append(recs, Parse(data)...)
	}
	return recs, found, nil
}

// LoginRecords reports which of the files exist and how many records they
// hold (doctor's check that post-use rotation can see logins).
func (f File) LoginRecords() (found []string, records int, err error) {
	recs, found, err := f.Records()
	return found, len(recs), err
}

// Sessions reads wtmp.1 and wtmp; no files means no sessions.
func (f File) Sessions(_ context.Context, user string) ([]agent.Session, error) {
	recs, _, err := f.Records()
	if err != nil {
		return nil, err
	}
	return Sessions(recs, user), nil
}
