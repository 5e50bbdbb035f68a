package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// StatePath is the state file, relative to the root.
const StatePath = "var/lib/serialpass/state.json"

// State is what the agent remembers between passes. It never holds the
// password or its hash: Fingerprint is a SHA-256 of the shadow field, enough
// to notice a local change and useless to recover the password.
type State struct {
	// Applied describes the password last set locally.
	Applied Applied `json:"applied"`
	// Reported is the status last written to the instance tags.
	Reported Report `json:"reported"`
	// LastPass is the outcome of the most recent pass, for `status`.
	LastPass Report `json:"last_pass"`
	// Shown is the outcome last written to the console banner.
	Shown Report `json:"shown,omitzero"`

	// Rotate mode (rotate.go). Rotation is the rotation left open, nil
	// when none is: it is saved before any AWS call of a rotation.
	Rotation *Rotation `json:"rotation,omitempty"`
	// LastRotation is when the live password was generated (or adopted).
	LastRotation time.Time `json:"last_rotation,omitzero"`
	// RotatedVersion is the version this instance's last rotation (or
	// secret creation) made: while it holds AWSCURRENT, LastRotation
	// accounts for the store's last change.
	RotatedVersion string `json:"rotated_version,omitempty"`
	// RotateNonce is the rotate tag's value seen at the last rotation.
	RotateNonce string `json:"rotate_nonce,omitempty"`
	// RotateRequested is set by `serialpass rotate`, cleared by the
	// rotation that honours it.
	RotateRequested time.Time `json:"rotate_requested,omitzero"`
	// LastLogin is the start of the managed user's latest login session.
	LastLogin time.Time `json:"last_login,omitzero"`
	// Expired is true while the password is locked by enable-until.
	Expired bool `json:"expired,omitempty"`
	// FreshPending is true from a re-enable (enable-until extended or
	// removed) in rotate mode until the fresh password is set: the
	// account stays locked until then.
	FreshPending bool `json:"fresh_pending,omitempty"`
}

// Rotation phases, in protocol order.
const (
	// PhaseCreate: CreateSecret with Token may have been sent.
	PhaseCreate = "create"
	// PhaseRecorded: PutSecretValue with Token may have been sent.
	PhaseRecorded = "recorded"
	// PhasePending: version Token holds AWSPENDING.
	PhasePending = "pending"
	// PhaseApplied: the local password is version Token's.
	PhaseApplied = "applied"
	// PhaseCurrent: AWSCURRENT is on version Token; AWSPENDING may remain.
	PhaseCurrent = "current"
)

// Rotation records a rotation in progress. It holds no password: until
// the version exists the password may be lost with the process, after
// that Secrets Manager holds it.
type Rotation struct {
	Secret string `json:"secret"`
	User   string `json:"user"`
	// Token is the ClientRequestToken, which becomes the VersionId.
	Token string `json:"token"`
	// From is the version that held AWSCURRENT when the rotation began.
	From    string    `json:"from,omitempty"`
	Phase   string    `json:"phase"`
	Started time.Time `json:"started"`
}

// Applied records which secret version is live locally.
type Applied struct {
	User        string    `json:"user,omitempty"`
	Secret      string    `json:"secret,omitempty"`
	VersionID   string    `json:"version_id,omitempty"`
	Fingerprint string    `json:"fingerprint,omitempty"`
	Time        time.Time `json:"time,omitzero"`
}

// Report is one outcome as reported.
type Report struct {
	Status    string    `json:"status,omitempty"`
	VersionID string    `json:"version_id,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	Time      time.Time `json:"time,omitzero"`
	// LastLogin is reported in rotate mode only.
	LastLogin time.Time `json:"last_login,omitzero"`
}

// same compares what is reported, not when.
func (r Report) same(o Report) bool {
	return r.Status == o.Status && r.VersionID == o.VersionID && r.Reason == o.Reason &&
		r.LastLogin.Equal(o.LastLogin)
}

// StateStore loads and saves State.
type StateStore interface {
	Load() (State, error)
	Save(State) error
}

// FileState keeps State in a JSON file, mode 0600, replaced atomically.
type FileState struct {
	Path string
}

// NewFileState returns the state file under root.
func NewFileState(root string) FileState {
	return FileState{Path: filepath.Join(root, StatePath)}
}

// Load reads the file; a missing file is an empty State.
func (f FileState) Load() (State, error) {
	var s State
	data, err := os.ReadFile(f.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("reading state: %w", err)
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return State{}, fmt.Errorf("state file %s is corrupt: %w", f.Path, err)
	}
	return s, nil
}

// Save writes the file atomically: a temporary file in the same directory,
// fsync, rename, fsync of the directory.
func (f FileState) Save(s State) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding state: %w", err)
	}
	return WriteFileAtomic(f.Path, append(data, '\n'), 0o600)
}

// WriteFileAtomic replaces path with data so that readers see the old or the
// new content, never a mix, even across a crash.
func WriteFileAtomic(path string, data []byte, mode fs.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
