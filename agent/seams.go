// Package agent is the core of serialpass: one reconcile pass from instance
// tags to a working serial-console password, written over the small
// interfaces in this file. Adapters for AWS and for the OS live in their own
// packages; this package imports neither AWS types nor os/exec.
package agent

import (
	"context"
	"errors"
	"io"
	"time"
)

// TagSource reads the instance's own tags (IMDSv2 tags/instance in
// production).
type TagSource interface {
	// Tags returns the instance tags whose keys start with prefix. It
	// returns an error wrapping ErrTagsDisabled when instance metadata
	// does not expose tags (404 or an empty listing), and one wrapping
	// ErrUnreachable when the metadata service cannot be reached at all.
	Tags(ctx context.Context, prefix string) (map[string]string, error)
}

// Identity is what the agent needs to know about the instance it runs on.
type Identity struct {
	InstanceID   string
	Region       string
	InstanceType string
}

// Sentinel errors shared by adapters and the core.
var (
	// ErrTagsDisabled: instance metadata does not expose tags.
	ErrTagsDisabled = errors.New("tags are not enabled in instance metadata")
	// ErrUnreachable: a service (IMDS, an AWS endpoint) could not be reached.
	ErrUnreachable = errors.New("unreachable")
	// ErrSecretNotFound: the secret, or the version asked for, does not exist.
	ErrSecretNotFound = errors.New("secret not found")
	// ErrAccessDenied: the caller's credentials may not do this.
	ErrAccessDenied = errors.New("access denied")
	// ErrThrottled: the API asked us to slow down.
	ErrThrottled = errors.New("throttled")
)

// Stage names of Secrets Manager versions.
const (
	StageCurrent  = "AWSCURRENT"
	StagePending  = "AWSPENDING"
	StagePrevious = "AWSPREVIOUS"
)

// SecretVersion is one stored version of a secret.
type SecretVersion struct {
	// ARN and Name identify the secret itself.
	ARN  string
	Name string
	// VersionID identifies this version; Stages are its staging labels.
	VersionID string
	Stages    []string
	// Value is the SecretString. It redacts itself when printed.
	Value Password
}

// SecretStore reads secrets (Secrets Manager in production).
type SecretStore interface {
	// GetSecret returns the version of secret id (name or ARN) that holds
	// stage. Missing secrets and versions wrap ErrSecretNotFound.
	GetSecret(ctx context.Context, id, stage string) (SecretVersion, error)
}

// Account is what the agent knows about a local OS user.
type Account struct {
	Name   string
	UID    int
	Groups []string // supplementary groups
	Shell  string
	// Locked reports a password field that starts with '!' or is '*'/'!'
	// alone: no password login is possible.
	Locked bool
	// Fingerprint is a SHA-256 of the shadow password field, hex. It lets
	// the agent notice a local change without ever storing the hash.
	Fingerprint string
	// Aging is the account's password aging and expiry; nil when the
	// manager does not know it (no shadow entry, or it does not read it).
	Aging *Aging
}

// Aging is what etc/shadow says of an account's password aging and
// expiry, fields 3 to 8: days, dates as days since 1970-01-01, and -1 for
// an empty field.
type Aging struct {
	LastChange int64 // 0: the password must be changed at the next login
	MinDays    int64
	MaxDays    int64
	WarnDays   int64
	Inactive   int64 // days after the password expires until the account is disabled
	Expire     int64 // the account's expiry date
}

// AccountSpec describes a user to create.
type AccountSpec struct {
	Name   string
	Groups []string
	Shell  string
}

// System holds the facts of the target root that guardrails need.
type System struct {
	UIDMin        int      // login.defs UID_MIN
	UIDMax        int      // login.defs UID_MAX (0: no upper bound known)
	EncryptMethod string   // login.defs ENCRYPT_METHOD
	Groups        []string // names present in etc/group
	Shells        []string // login shells present in the root
}

// AccountManager creates and updates local accounts (shadow-utils in
// production). Every method works under the root it was built for.
type AccountManager interface {
	System(ctx context.Context) (System, error)
	// Lookup returns the account and true, or false if it does not exist.
	Lookup(ctx context.Context, name string) (Account, bool, error)
	Create(ctx context.Context, spec AccountSpec) error
	// AddGroups adds the user to supplementary groups, keeping others.
	AddGroups(ctx context.Context, name string, groups []string) error
	// SetPassword sets the password; it reaches the OS on stdin only.
	SetPassword(ctx context.Context, name string, pw Password) error
	// Delete removes an account this pass created (rollback only).
	Delete(ctx context.Context, name string) error
	// Lock disables password login for the account (time-limited access);
	// the next SetPassword unlocks it.
	Lock(ctx context.Context, name string) error
	// RemoveAging sets no minimum or maximum password age, no inactivity
	// period and no account expiry, and replaces a last-change date of 0
	// (change at next login) with today. The password itself is kept.
	// A pass needs it when Lookup reports aging on the managed account.
	RemoveAging(ctx context.Context, name string) error
}

// Verifier checks a password against the account's stored hash the way a
// login would (PAM's helper on the live system, crypt(3) under a root),
// never passing it on argv. A mismatch wraps ErrWrongPassword.
type Verifier interface {
	Verify(ctx context.Context, user string, pw Password) error
	// MaxPasswordLen is the longest password, in bytes, that Verify can
	// check (0: no bound of its own below MaxPasswordLen). A pass refuses
	// a longer password before it writes anything: it could be set but
	// never checked, and every later pass would set it again.
	MaxPasswordLen() int
}

// ErrWrongPassword: the password does not match the stored hash.
var ErrWrongPassword = errors.New("password does not authenticate")

// StatusReporter writes the outcome of a pass where operators can see it
// (instance tags through ec2:CreateTags in production).
type StatusReporter interface {
	Report(ctx context.Context, instanceID string, tags map[string]string) error
}

// IdentitySource tells the agent which instance it runs on (IMDSv2 in
// production). Errors wrap ErrUnreachable when the service cannot be
// reached, so the caller can wait for it at boot.
type IdentitySource interface {
	Identity(ctx context.Context) (Identity, error)
}

// Clock tells the time and sleeps; tests pass a fake one.
type Clock interface {
	Now() time.Time
	// Sleep waits for d or until ctx is done, returning ctx.Err() then.
	Sleep(ctx context.Context, d time.Duration) error
}

// Runner runs one program with argv, never through a shell. Stdin may be
// nil. Output is returned; on failure the error carries stderr.
type Runner interface {
	Run(ctx context.Context, stdin io.Reader, argv ...string) ([]byte, error)
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// Sleep waits for d or until ctx is done.
func (SystemClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// SecretInfo describes a secret without its value.
type SecretInfo struct {
	ARN  string
	Name string
	// Versions maps each VersionId to its staging labels.
	Versions map[string][]string
	Tags     map[string]string
	// LastChanged is DescribeSecret's LastChangedDate: when the secret
	// last changed, a new version included (zero when the store does not
	// say). Store time, not the instance's clock.
	LastChanged time.Time
}

// NewSecret is what rotate mode creates for an instance.
type NewSecret struct {
	Name        string
	Description string
	KMSKeyID    string
	Tags        map[string]string
	// Token is the ClientRequestToken of the first version; Value its
	// SecretString (it becomes AWSCURRENT).
	Token string
	Value Password
}

// SecretAdmin is the write side of the store, used by rotate mode.
type SecretAdmin interface {
	SecretStore
	// GetSecretVersion returns one version by VersionId.
	GetSecretVersion(ctx context.Context, id, versionID string) (SecretVersion, error)
	DescribeSecret(ctx context.Context, id string) (SecretInfo, error)
	// CreateSecret creates the secret with a first version. Creating one
	// that exists wraps ErrSecretExists.
	CreateSecret(ctx context.Context, in NewSecret) (SecretVersion, error)
	// PutSecretValue stores value as version token with the given stages;
	// repeating the same call is idempotent (Secrets Manager semantics).
	PutSecretValue(ctx context.Context, id, token string, value Password, stages []string) (versionID string, err error)
	// UpdateSecretVersionStage moves stage to moveTo (and off removeFrom
	// when given); moveTo empty only removes it from removeFrom.
	UpdateSecretVersionStage(ctx context.Context, id, stage, moveTo, removeFrom string) error
}

// ErrSecretExists: CreateSecret on a name that is taken.
var ErrSecretExists = errors.New("secret already exists")
