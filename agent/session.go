package agent

import (
	"context"
	"time"
)

// Session is one login session of a user, from the system's own records.
type Session struct {
	User string
	// Line is the terminal ("ttyS0", "pts/0").
	Line  string
	Login time.Time
	// Logout is zero while the session is open.
	Logout time.Time
}

// SessionSource lists a user's login sessions, oldest first (wtmp and
// wtmpdb in production: package logins). A system without records
// returns none and no error.
type SessionSource interface {
	Sessions(ctx context.Context, user string) ([]Session, error)
}
