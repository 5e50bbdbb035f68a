package logins

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/serialpass/serialpass/agent"
)

// fakeSource is a source with fixed answers.
type fakeSource struct {
	paths    []string
	sessions []agent.Session
	found    []string
	records  int
	err      error
}

func (f fakeSource) Sessions(context.Context, string) ([]agent.Session, error) {
	return f.sessions, f.err
}
func (f fakeSource) Paths() []string { return f.paths }
func (f fakeSource) LoginRecords() ([]string, int, error) {
	return f.found, f.records, f.err
}

func TestAll(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	s := func(line string, h int) agent.Session {
		return agent.Session{User: "ec2-serial", Line: line, Login: t0.Add(time.Duration(h) * time.Hour)}
	}
	wtmp := fakeSource{paths: []string{"/var/log/wtmp.1", "/var/log/wtmp"}, found: []string{"/var/log/wtmp"}, records: 4,
		sessions: []agent.Session{s("ttyS0", 1), s("ttyS0", 5)}}
	db := fakeSource{paths: []string{"/var/lib/wtmpdb/wtmp.db"}, found: []string{"/var/lib/wtmpdb/wtmp.db"}, records: 2,
		sessions: []agent.Session{s("ttyS0", 3)}}
	broken := fakeSource{paths: []string{"/var/lib/wtmpdb/wtmp.db"}, err: errors.New("malformed")}
	for _, tc := range []struct {
		name         string
		all          All
		wantSessions []agent.Session
		wantFound    []string
		wantRecords  int
		wantErr      bool
	}{
		{name: "merged oldest first", all: All{wtmp, db},
			wantSessions: []agent.Session{s("ttyS0", 1), s("ttyS0", 3), s("ttyS0", 5)},
			wantFound:    []string{"/var/log/wtmp", "/var/lib/wtmpdb/wtmp.db"}, wantRecords: 6},
		{name: "none", all: All{fakeSource{}, fakeSource{}}},
		{name: "one unreadable fails the whole", all: All{wtmp, broken}, wantErr: true,
			wantFound: []string{"/var/log/wtmp"}, wantRecords: 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.all.Sessions(context.Background(), "ec2-serial")
			if (err != nil) != tc.wantErr || !reflect.DeepEqual(got, tc.wantSessions) {
				t.Errorf("Sessions = %+v, %v; want %+v, error %v", got, err, tc.wantSessions, tc.wantErr)
			}
			found, n, err := tc.all.LoginRecords()
			if (err != nil) != tc.wantErr || !reflect.DeepEqual(found, tc.wantFound) || n != tc.wantRecords {
				t.Errorf("LoginRecords = %q, %d, %v; want %q, %d, error %v", found, n, err, tc.wantFound, tc.wantRecords, tc.wantErr)
			}
		})
	}
	if got, want := (All{wtmp, db}).Paths(), []string{"/var/log/wtmp.1", "/var/log/wtmp", "/var/lib/wtmpdb/wtmp.db"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Paths = %q, want %q", got, want)
	}
}
