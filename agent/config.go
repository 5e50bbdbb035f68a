package agent

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/serialpass/serialpass/agent/console/consolecfg"
)

// DefaultConfigPath is where the AMI owner's guardrails live.
const DefaultConfigPath = "/etc/serialpass/config.yaml"

// Config holds the AMI owner's guardrails. Tags choose within them.
type Config struct {
	// TagPrefix selects the instance tags the agent reads.
	TagPrefix string `yaml:"tag_prefix"`
	// User is the OS user managed when no user tag is set.
	User string `yaml:"user"`
	// Groups the user joins when no groups tag is set. Empty: the distro's
	// admin group (sudo or wheel, whichever exists).
	Groups []string `yaml:"groups"`
	// AllowedGroups is the allow-list for the groups tag. Empty: the same
	// default as Groups.
	AllowedGroups []string `yaml:"allowed_groups"`
	// AllowRoot permits managing root's password.
	AllowRoot bool `yaml:"allow_root"`
	// AllowSystemUsers lists existing accounts below UID_MIN that may be
	// managed.
	AllowSystemUsers []string `yaml:"allow_system_users"`
	// Shell for new users. Empty: /bin/bash if present, else /bin/sh.
	Shell string `yaml:"shell"`
	// BootTimeout bounds the wait for instance metadata at start.
	BootTimeout Duration `yaml:"boot_timeout"`
	// Interval between passes of the daemon.
	Interval Duration `yaml:"interval"`

	// Rotate mode (tag serialpass:mode=rotate); see rotate.go.
	// SecretTemplate names the per-instance secret when no secret tag is
	// set; "{instance-id}" is replaced (also in the secret tag).
	SecretTemplate string `yaml:"secret_template"`
	// PasswordLength and PasswordAlphabet shape generated passwords.
	PasswordLength   int    `yaml:"password_length"`
	PasswordAlphabet string `yaml:"password_alphabet"`
	// MaxAge is the oldest a password may get (the max-age tag wins).
	MaxAge Duration `yaml:"max_age"`
	// RotateAfterUse is the grace delay after a login session of the user
	// ends before the password is rotated; 0 turns it off.
	RotateAfterUse Duration `yaml:"rotate_after_use"`
	// KMSKeyID and SecretDescription are used when the agent creates the
	// secret; "{instance-id}" is replaced in the description.
	KMSKeyID          string `yaml:"kms_key_id"`
	SecretDescription string `yaml:"secret_description"`

	// Console holds the serial-console keys (console_only, consoles,
	// fix_console, enable_getty, console_device) at the top level.
	Console consolecfg.Options `yaml:",inline"`
}

// DefaultConfig returns the built-in defaults.
func DefaultConfig() Config {
	return Config{
		TagPrefix:   "serialpass:",
		User:        "ec2-serial",
		BootTimeout: Duration(5 * time.Minute),
		Interval:    Duration(15 * time.Minute),

		SecretTemplate:    "serialpass/{instance-id}",
		PasswordLength:    24,
		PasswordAlphabet:  DefaultAlphabet,
		MaxAge:            Duration(30 * 24 * time.Hour),
		RotateAfterUse:    Duration(time.Hour),
		SecretDescription: "Serial console password of {instance-id}, rotated by serialpass",

		Console: consolecfg.Options{ConsoleOnly: new(true), ConsoleDevice: consolecfg.DefaultDevice},
	}
}

// LoadConfig reads path over the defaults. A missing file is an error
// unless optional is true (the default path), in which case the defaults
// are returned.
func LoadConfig(path string, optional bool) (Config, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && optional {
		return DefaultConfig(), nil
	}
	if err != nil {
		return Config{}, fmt.Errorf("reading config: %w", err)
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// ParseConfig parses YAML over the defaults. Unknown keys are an error.
func ParseConfig(data []byte) (Config, error) {
	cfg := DefaultConfig()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, err
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		return Config{}, errors.New("the config holds more than one YAML document")
	}
	return cfg, cfg.validate()
}

func (c Config) validate() error {
	if err := c.Console.Validate(); err != nil {
		return err
	}
	if !tagPrefixRE.MatchString(c.TagPrefix) || strings.HasPrefix(strings.ToLower(c.TagPrefix), "aws:") {
		return fmt.Errorf("tag_prefix %q: want 1 to 64 of A-Z a-z 0-9 + - = . _ : @, not starting with aws: (tags in instance metadata allow no spaces or slashes)", clip(c.TagPrefix, 40))
	}
	if err := ValidUserName(c.User); err != nil {
		return fmt.Errorf("user: %w", err)
	}
	for _, g := range append(append([]string{}, c.Groups...), c.AllowedGroups...) {
		if err := ValidUserName(g); err != nil {
			return fmt.Errorf("group %q: %w", g, err)
		}
	}
	if c.BootTimeout <= 0 {
		return errors.New("boot_timeout must be positive")
	}
	if c.Interval < Duration(MinInterval) {
		return fmt.Errorf("interval must be at least %s", MinInterval)
	}
	return c.validateRotate()
}

// MinInterval is the shortest interval between daemon passes.
const MinInterval = time.Second

// tagPrefixRE: characters EC2 allows in tag keys that instance metadata can
// serve (no spaces, no "/"), leaving room for the agent's own keys.
var tagPrefixRE = regexp.MustCompile(`^[A-Za-z0-9+\-=._:@]{1,64}$`)

// Duration is a time.Duration that also accepts whole days ("30d").
type Duration time.Duration

// ParseDuration accepts a Go duration or a number of days followed by "d".
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > 36500 {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q", s)
	}
	return d, nil
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the Go form.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }
