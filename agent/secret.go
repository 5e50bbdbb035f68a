package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// MaxPasswordLen is the longest password accepted, in bytes.
const MaxPasswordLen = 1024

// secretJSON is the structured form of a SecretString.
type secretJSON struct {
	Username *string `json:"username"`
	Password *string `json:"password"`
}

// ParseSecret extracts the password for user from a SecretString: either a
// JSON object with "password" (required) and "username" (optional, must equal
// user), or a plain string that is the password. Error messages never quote
// the secret.
func ParseSecret(v Password, user string) (Password, error) {
	raw := v.Reveal()
	trimmed := bytes.TrimSpace(raw)
	pw := v
	if len(trimmed) > 0 && trimmed[0] == '{' {
		var s secretJSON
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		if err := dec.Decode(&s); err != nil || dec.More() {
			// json's messages quote characters of the input: never pass them on.
			return Password{}, errors.New("secret starts with '{' but is not a valid JSON object")
		}
		if s.Password == nil {
			return Password{}, errors.New(`secret JSON has no "password" string`)
		}
		if s.Username != nil && *s.Username != user {
			return Password{}, fmt.Errorf("secret is for user %q, not %q", clip(*s.Username, 40), user)
		}
		pw = NewPassword(*s.Password)
	}
	if err := CheckPassword(pw); err != nil {
		return Password{}, err
	}
	return pw, nil
}

// CheckPassword refuses passwords that cannot be set safely: empty, over
// MaxPasswordLen bytes, not UTF-8, or holding a newline, carriage return or
// NUL (a newline on chpasswd's stdin would start another user's line).
func CheckPassword(pw Password) error {
	b := pw.Reveal()
	switch {
	case len(b) == 0:
		return errors.New("password is empty")
	case len(b) > MaxPasswordLen:
		return fmt.Errorf("password is %d bytes, more than %d", len(b), MaxPasswordLen)
	case !utf8.Valid(b):
		return errors.New("password is not valid UTF-8")
	case bytes.ContainsAny(b, "\n\r\x00"):
		return errors.New("password contains a newline, carriage return or NUL")
	}
	return nil
}

// checkVerifiable refuses a password longer than the Verifier can check
// (pam_unix's helper reads at most 511 bytes on a live system), before
// anything is written: such a password would be set, fail its check, and
// be set again by every later pass.
func (a *Agent) checkVerifiable(pw Password) error {
	if a.Verifier == nil {
		return nil
	}
	if max := a.Verifier.MaxPasswordLen(); max > 0 && pw.Len() > max {
		return fmt.Errorf("password is %d bytes, more than the %d this system can verify at login: use a shorter one", pw.Len(), max)
	}
	return nil
}
