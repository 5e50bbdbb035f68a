// Package doctor checks every prerequisite of a working EC2 Serial Console
// login and says, per check, why it passes or fails and how to fix it. The
// checks run over small interfaces; cmd/serialpass wires the real ones.
package doctor

import (
	"context"
	"errors"
	"time"

	"github.com/serialpass/serialpass/agent"
	"github.com/serialpass/serialpass/agent/console"
)

// Level is the outcome of one check.
type Level string

// Levels, from good to bad.
const (
	Pass Level = "pass"
	Warn Level = "warn"
	Fail Level = "fail"
)

// Check is one line of the doctor's report.
type Check struct {
	Name  string `json:"name"`
	Level Level  `json:"status"`
	// Why is one line on what was found.
	Why string `json:"why"`
	// Fix is one line on what to do, empty when nothing is to be done.
	Fix string `json:"fix,omitempty"`
}

// Metadata is the instance metadata service, probed as doctor needs it.
type Metadata interface {
	// Token asks for an IMDSv2 session token: the service is reachable.
	Token(ctx context.Context) error
	// Tokenless makes an IMDSv1 request and returns its HTTP status.
	Tokenless(ctx context.Context) (int, error)
	// Get reads a path under /latest/meta-data/ with a token. A 404 wraps
	// ErrNotFound.
	Get(ctx context.Context, path string) (string, error)
}

// ErrNotFound: the metadata path does not exist.
var ErrNotFound = errors.New("not found in instance metadata")

// Secrets is the read side of Secrets Manager.
type Secrets interface {
	DescribeSecret(ctx context.Context, id string) (agent.SecretInfo, error)
	GetSecret(ctx context.Context, id, stage string) (agent.SecretVersion, error)
}

// EC2 holds the EC2 API calls doctor makes.
type EC2 interface {
	// CheckCreateTags calls CreateTags with DryRun: nil means allowed.
	CheckCreateTags(ctx context.Context, instanceID string) error
	// SerialConsoleAccess tells whether the account allows serial console
	// access in this region; known is false when the API gave no answer.
	SerialConsoleAccess(ctx context.Context) (enabled, known bool, err error)
}

// Host is the local system (console.Console implements it).
type Host interface {
	KernelConsole(dev string) (ok bool, source string, err error)
	Getty(dev string) console.GettyState
	Account(user string, now time.Time) (console.AccountState, error)
	ConsoleOnlyState() (console.ConsoleOnlyState, error)
}

// LoginRecords is the system's login records (logins.All implements it):
// what post-use rotation reads.
type LoginRecords interface {
	// Paths lists the files read, older first.
	Paths() []string
	// LoginRecords returns those of Paths that exist and how many records
	// they hold.
	LoginRecords() (found []string, records int, err error)
}

// Doctor runs the checks. A nil AWS seam (no credentials could be set up)
// makes its checks fail with NoAWS as the reason.
type Doctor struct {
	Config  agent.Config
	Console console.Options
	IMDS    Metadata
	Secrets Secrets
	EC2     EC2
	Host    Host
	// Logins is checked in rotate mode with rotate_after_use on; nil
	// skips that check.
	Logins LoginRecords
	// NoAWS says why Secrets or EC2 are nil.
	NoAWS error
	Now   func() time.Time
}

// Failed reports whether any check failed: doctor exits non-zero then.
func Failed(checks []Check) bool {
	for _, c := range checks {
		if c.Level == Fail {
			return true
		}
	}
	return false
}

// Run runs every check, in the order an operator would fix them.
func (d *Doctor) Run(ctx context.Context) []Check {
	var out []Check
	add := func(c ...Check) { out = append(out, c...) }
	inst := d.instanceChecks(ctx, add)
	d.secretChecks(ctx, inst, add)
	d.ec2Checks(ctx, inst, add)
	d.hostChecks(inst, add)
	return out
}

// instance is what the metadata checks learned for the later ones.
type instance struct {
	reachable bool
	id        string
	// set is what the tags ask for, as agent.ParseTags reads them.
	set agent.Settings
	// managed: the tags parse and ask serialpass to manage the instance.
	managed bool
	// secret is the secret a pass works on (SecretName), "" unless managed.
	secret string
	user   string // the managed user: the user tag, else the config's
}
