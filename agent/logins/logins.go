// Package logins reads the system's login records wherever the
// distribution keeps them: the utmp-format wtmp files (package wtmp) and
// wtmpdb's database (package wtmpdb). Most systems keep one of the two;
// Debian 13 has both, and its pam_wtmpdb writes console logins to the
// database only. It implements agent.SessionSource and doctor's
// LoginRecords.
package logins

import (
	"context"
	"errors"
	"slices"

	"github.com/serialpass/serialpass/agent"
	"github.com/serialpass/serialpass/agent/wtmp"
	"github.com/serialpass/serialpass/agent/wtmpdb"
)

// Source is one kind of login record.
type Source interface {
	agent.SessionSource
	// Paths lists the files read, older first.
	Paths() []string
	// LoginRecords returns those of Paths that exist and how many records
	// they hold.
	LoginRecords() (found []string, records int, err error)
}

// All reads every source it holds.
type All []Source

var _ Source = All(nil)

// New returns the login records of root: wtmp.1 and wtmp, then wtmpdb's
// database.
func New(root string) All { return All{wtmp.New(root), wtmpdb.New(root)} }

// Sessions merges the user's sessions from every source, oldest first. A
// source that cannot be read fails the whole: a session it would show
// open must not be missed.
func (a All) Sessions(ctx context.Context, user string) ([]agent.Session, error) {
	var out []agent.Session
	var errs []error
	for _, s := range a {
		ss, err := s.Sessions(ctx, user)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, ss...)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	slices.SortStableFunc(out, func(x, y agent.Session) int { return x.Login.Compare(y.Login) })
	return out, nil
}

// Paths lists every source's files.
func (a All) Paths() []string {
	var out []string
	for _, s := range a {
		out = append(out, s.Paths()...)
	}
	return out
}

// LoginRecords adds up what every source found; a source that cannot be
// read is an error.
func (a All) LoginRecords() (found []string, records int, err error) {
	var errs []error
	for _, s := range a {
		f, n, err := s.LoginRecords()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		found, records = append(found, f...), records+n
	}
	return found, records, errors.Join(errs...)
}
