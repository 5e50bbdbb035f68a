package agent

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// DefaultAlphabet is easy to read and to type on a serial console: ASCII
// letters and digits without the look-alikes 0 O 1 l I, plus three symbols
// that need no dead key in common layouts.
const DefaultAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789-_."

// safeSymbols are the only non-alphanumeric characters an alphabet may
// hold: no quotes, backslash, backtick, space, dead keys (^ ~) or shell
// metacharacters, so the password survives copy, paste and typing.
const safeSymbols = "-_.,+=@%/:"

// Bounds of the generated password's configuration.
const (
	minPasswordLength = 12
	maxPasswordLength = 128
	minAlphabet       = 32
	maxSymbols        = 4
)

// MinRotationInterval: Secrets Manager asks for at most one PutSecretValue
// per secret every 10 minutes, so no two rotations of a secret are closer.
const MinRotationInterval = 10 * time.Minute

func (c Config) validateRotate() error {
	if !strings.Contains(c.SecretTemplate, "{instance-id}") {
		return fmt.Errorf("secret_template %q must contain {instance-id}: each instance needs its own secret", c.SecretTemplate)
	}
	if c.PasswordLength < minPasswordLength || c.PasswordLength > maxPasswordLength {
		return fmt.Errorf("password_length %d is outside %d..%d", c.PasswordLength, minPasswordLength, maxPasswordLength)
	}
	if err := checkAlphabet(c.PasswordAlphabet); err != nil {
		return fmt.Errorf("password_alphabet: %w", err)
	}
	if c.MaxAge < Duration(MinRotationInterval) {
		return fmt.Errorf("max_age must be at least %s", MinRotationInterval)
	}
	if c.RotateAfterUse < 0 {
		return errors.New("rotate_after_use must not be negative (0 turns it off)")
	}
	return nil
}

// checkAlphabet accepts distinct ASCII letters and digits plus at most
// maxSymbols characters of safeSymbols, minAlphabet characters at least.
func checkAlphabet(a string) error {
	seen := map[rune]bool{}
	symbols := 0
	for _, r := range a {
		switch {
		case seen[r]:
			return fmt.Errorf("%q appears twice", r)
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune(safeSymbols, r):
			symbols++
		default:
			return fmt.Errorf("%q is not allowed (letters, digits and at most %d of %q)", r, maxSymbols, safeSymbols)
		}
		seen[r] = true
	}
	if symbols > maxSymbols {
		return fmt.Errorf("%d symbols, at most %d allowed", symbols, maxSymbols)
	}
	if len(seen) < minAlphabet {
		return fmt.Errorf("%d characters, at least %d needed", len(seen), minAlphabet)
	}
	return nil
}

// GeneratePassword draws n characters uniformly from alphabet with
// crypto/rand.
func GeneratePassword(n int, alphabet string) (Password, error) {
	if err := checkAlphabet(alphabet); err != nil {
		return Password{}, err
	}
	max := big.NewInt(int64(len(alphabet)))
	b := make([]byte, n)
	for i := range b {
		k, err := rand.Int(rand.Reader, max)
		if err != nil {
			return Password{}, fmt.Errorf("generating a password: %w", err)
		}
		b[i] = alphabet[k.Int64()]
	}
	return Password{b: b}, nil
}

// newToken returns a fresh ClientRequestToken: 32 hex characters (the API
// wants 32 to 64), which also becomes the VersionId.
func newToken() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generating a request token: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// secretValue renders the stored form {"username": ..., "password": ...}.
func secretValue(user string, pw Password) Password {
	// json.Marshal of a string cannot fail; the password holds only
	// alphabet characters, but it is escaped like any string.
	u, _ := json.Marshal(user)
	p, _ := json.Marshal(string(pw.Reveal()))
	return Password{b: []byte(`{"username":` + string(u) + `,"password":` + string(p) + `}`)}
}
