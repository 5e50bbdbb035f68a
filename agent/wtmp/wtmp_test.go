package wtmp

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/serialpass/serialpass/agent"
)

var t0 = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

func at(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }

func login(user, line string, min int) Record {
	return Record{Type: UserProcess, PID: 100, Line: line, ID: "S0", User: user, Time: at(min)}
}

func logout(line string, min int) Record {
	return Record{Type: DeadProcess, PID: 100, Line: line, ID: "S0", Time: at(min)}
}

func file(recs ...Record) []byte {
	var b bytes.Buffer
	for _, r := range recs {
		b.Write(Encode(r))
	}
	return b.Bytes()
}

func TestRecordRoundTrip(t *testing.T) {
	r := Record{Type: UserProcess, PID: 4242, Line: "ttyS0", ID: "S0", User: "ec2-serial", Host: "", Time: time.Date(2026, 12, 3, 12, 34, 56, 789000, time.UTC)}
	b := Encode(r)
	if len(b) != RecordSize {
		t.Fatalf("record is %d bytes", len(b))
	}
	// Offsets of glibc's struct utmp on x86_64: ut_line at 8, ut_user at
	// 44, ut_tv.tv_sec at 340.
	if string(b[8:13]) != "ttyS0" || string(b[44:54]) != "ec2-serial" || b[0] != UserProcess {
		t.Fatalf("fields at the wrong offsets")
	}
	got := Parse(append(b, 1, 2, 3)) // a partial trailing record is ignored
	if len(got) != 1 || got[0] != r {
		t.Fatalf("Parse = %+v, want %+v", got, r)
	}
}

func TestSessions(t *testing.T) {
	reboot := Record{Type: BootTime, Line: "~", User: "reboot", Time: at(50)}
	cases := []struct {
		name string
		recs []Record
		want []agent.Session
	}{
		{"none", nil, nil},
		{"login and logout", []Record{login("ec2-serial", "ttyS0", 1), logout("ttyS0", 5)},
			[]agent.Session{{User: "ec2-serial", Line: "ttyS0", Login: at(1), Logout: at(5)}}},
		{"still open", []Record{login("ec2-serial", "ttyS0", 1)},
			[]agent.Session{{User: "ec2-serial", Line: "ttyS0", Login: at(1)}}},
		{"other users ignored", []Record{login("alice", "pts/0", 1), login("ec2-serial", "ttyS0", 2), logout("pts/0", 3), logout("ttyS0", 4)},
			[]agent.Session{{User: "ec2-serial", Line: "ttyS0", Login: at(2), Logout: at(4)}}},
		{"logout on another line does not end it", []Record{login("ec2-serial", "ttyS0", 1), logout("tty1", 2)},
			[]agent.Session{{User: "ec2-serial", Line: "ttyS0", Login: at(1)}}},
		{"reboot ends open sessions", []Record{login("ec2-serial", "ttyS0", 1), reboot},
			[]agent.Session{{User: "ec2-serial", Line: "ttyS0", Login: at(1), Logout: at(50)}}},
		{"shutdown ends open sessions", []Record{login("ec2-serial", "ttyS0", 1), {Type: RunLevel, User: "shutdown", Line: "~~", Time: at(9)}},
			[]agent.Session{{User: "ec2-serial", Line: "ttyS0", Login: at(1), Logout: at(9)}}},
		{"a new login on the line ends the old", []Record{login("ec2-serial", "ttyS0", 1), login("root", "ttyS0", 7)},
			[]agent.Session{{User: "ec2-serial", Line: "ttyS0", Login: at(1), Logout: at(7)}}},
		{"two sessions", []Record{login("ec2-serial", "ttyS0", 1), logout("ttyS0", 2), login("ec2-serial", "ttyS0", 3)},
			[]agent.Session{{User: "ec2-serial", Line: "ttyS0", Login: at(1), Logout: at(2)}, {User: "ec2-serial", Line: "ttyS0", Login: at(3)}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Sessions(Parse(file(tc.recs...)), "ec2-serial")
			if len(got) != len(tc.want) {
				t.Fatalf("Sessions = %+v, want %+v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("session %d = %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestFile(t *testing.T) {
	partial := func(b []byte) []byte { return append(b, 1, 2, 3) } // a write in progress
	tests := []struct {
		name        string
		wtmp1, wtmp []byte // nil: the file does not exist
		want        []agent.Session
		wantFound   []string
		wantRecords int
	}{
		{name: "no files: no sessions"},
		{name: "wtmp alone", wtmp: file(login("ec2-serial", "ttyS0", 1), logout("ttyS0", 2)),
			want:      []agent.Session{{User: "ec2-serial", Line: "ttyS0", Login: at(1), Logout: at(2)}},
			wantFound: []string{"wtmp"}, wantRecords: 2},
		{name: "empty wtmp: found, no records", wtmp: []byte{}, wantFound: []string{"wtmp"}},
		{name: "a logout whose login was rotated into wtmp.1",
			wtmp1: file(login("ec2-serial", "ttyS0", 1)), wtmp: file(logout("ttyS0", 5)),
			want:      []agent.Session{{User: "ec2-serial", Line: "ttyS0", Login: at(1), Logout: at(5)}},
			wantFound: []string{"wtmp.1", "wtmp"}, wantRecords: 2},
		{name: "wtmp.1 read before wtmp",
			wtmp1: file(login("ec2-serial", "ttyS0", 1), logout("ttyS0", 2)), wtmp: file(login("ec2-serial", "ttyS0", 3)),
			want: []agent.Session{{User: "ec2-serial", Line: "ttyS0", Login: at(1), Logout: at(2)},
				{User: "ec2-serial", Line: "ttyS0", Login: at(3)}},
			wantFound: []string{"wtmp.1", "wtmp"}, wantRecords: 3},
		{name: "wtmp.1 alone (wtmp not yet created after rotation)",
			wtmp1:     file(login("ec2-serial", "ttyS0", 1), logout("ttyS0", 2)),
			want:      []agent.Session{{User: "ec2-serial", Line: "ttyS0", Login: at(1), Logout: at(2)}},
			wantFound: []string{"wtmp.1"}, wantRecords: 2},
		{name: "a partial record at the end of wtmp.1 does not shift wtmp",
			wtmp1: partial(file(login("ec2-serial", "ttyS0", 1))), wtmp: file(logout("ttyS0", 4)),
			want:      []agent.Session{{User: "ec2-serial", Line: "ttyS0", Login: at(1), Logout: at(4)}},
			wantFound: []string{"wtmp.1", "wtmp"}, wantRecords: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, "var/log")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			for name, data := range map[string][]byte{"wtmp.1": tt.wtmp1, "wtmp": tt.wtmp} {
				if data == nil {
					continue
				}
				if err := os.WriteFile(filepath.Join(dir, name), data, 0o664); err != nil {
					t.Fatal(err)
				}
			}
			f := New(root)
			got, err := f.Sessions(context.Background(), "ec2-serial")
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("Sessions = %+v, want %+v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("session %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
			found, n, err := f.LoginRecords()
			if err != nil {
				t.Fatal(err)
			}
			var wantFound []string
			for _, name := range tt.wantFound {
				wantFound = append(wantFound, filepath.Join(dir, name))
			}
			if !slices.Equal(found, wantFound) || n != tt.wantRecords {
				t.Errorf("LoginRecords = %q, %d; want %q, %d", found, n, wantFound, tt.wantRecords)
			}
		})
	}
	t.Run("unreadable path is an error naming it", func(t *testing.T) {
		root := t.TempDir()
		_, err := (File{Path: root}).Sessions(context.Background(), "x")
		if err == nil || !strings.Contains(err.Error(), root) {
			t.Fatalf("reading a directory: %v, want an error naming %s", err, root)
		}
	})
}

// FuzzParse: any bytes parse without panicking, into whole records that
// encode back to themselves, and pairing sessions never invents a user.
func FuzzParse(f *testing.F) {
	f.Add([]byte{})
	f.Add(file(login("ec2-serial", "ttyS0", 1), logout("ttyS0", 2)))
	f.Add(file(login("ec2-serial", "ttyS0", 1), Record{Type: BootTime, Time: at(3)})[:500])
	f.Add(bytes.Repeat([]byte{0xff}, RecordSize*2+7))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs := Parse(data)
		if len(recs) != len(data)/RecordSize {
			t.Fatalf("%d records from %d bytes", len(recs), len(data))
		}
		for _, r := range recs {
			if again := Parse(Encode(r)); len(again) != 1 || again[0] != r {
				t.Fatalf("record does not round-trip: %+v", r)
			}
		}
		for _, s := range Sessions(recs, "ec2-serial") {
			if s.User != "ec2-serial" || (!s.Logout.IsZero() && s.Logout.Before(time.Unix(0, 0))) {
				t.Fatalf("bad session %+v", s)
			}
		}
	})
}
