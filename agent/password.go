package agent

import (
	"bytes"
	"fmt"
	"log/slog"
)

const redacted = "[redacted]"

// Password holds secret material. Every way of printing it (String, %v, %#v,
// %q, slog, JSON) yields a redaction marker; only Reveal gives the bytes, to
// be written to a child's stdin.
type Password struct {
	b []byte
}

// NewPassword wraps s.
func NewPassword(s string) Password { return Password{b: []byte(s)} }

// Reveal returns the secret bytes. Callers write them to stdin and nowhere
// else.
func (p Password) Reveal() []byte { return p.b }

// Len is the length in bytes.
func (p Password) Len() int { return len(p.b) }

// IsZero reports an empty password.
func (p Password) IsZero() bool { return len(p.b) == 0 }

// Equal compares two passwords.
func (p Password) Equal(o Password) bool { return bytes.Equal(p.b, o.b) }

// String redacts.
func (Password) String() string { return redacted }

// GoString redacts.
func (Password) GoString() string { return redacted }

// Format redacts for every verb.
func (Password) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// LogValue redacts.
func (Password) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText redacts, so encoders never write the secret.
func (Password) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// scrub removes any occurrence of secret material from s, a last line of
// defence for reasons and errors that quote other programs' output.
func scrub(s string, secrets ...Password) string {
	for _, p := range secrets {
		if p.Len() >= 3 {
			s = string(bytes.ReplaceAll([]byte(s), p.b, []byte(redacted)))
		}
	}
	return s
}
