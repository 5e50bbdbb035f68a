package agent

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// Tag keys, relative to the configured prefix.
const (
	TagSecret = "secret"
	TagUser   = "user"
	TagGroups = "groups"
	// TagMode is "pull" (default) or "rotate"; see rotate.go.
	TagMode = "mode"
	// TagMaxAge bounds a rotate-mode password's age (Go duration or "Nd").
	TagMaxAge = "max-age"
	// TagRotate holds a nonce: each new value asks for one rotation.
	TagRotate = "rotate"
	// TagEnableUntil is an RFC 3339 time after which the password is
	// locked (both modes).
	TagEnableUntil = "enable-until"
	// TagStatus and keys below it are the agent's own report.
	TagStatus = "status"
)

// knownTags are the keys (after the prefix) the agent understands.
var knownTags = map[string]bool{TagSecret: true, TagUser: true, TagGroups: true,
	TagMode: true, TagMaxAge: true, TagRotate: true, TagEnableUntil: true}

// Modes of operation (tag TagMode).
const (
	ModePull   = "pull"
	ModeRotate = "rotate"
)

// Settings are what the tags ask for, resolved against the config.
type Settings struct {
	Secret string
	User   string
	Groups []string
	// Mode is ModePull or ModeRotate.
	Mode string
	// MaxAge is the max-age tag (zero: the config's max_age).
	MaxAge time.Duration
	// RotateNonce is the rotate tag's value.
	RotateNonce string
	// EnableUntil is the enable-until tag (zero: no limit).
	EnableUntil time.Time
	// Unknown lists tag keys with the prefix that the agent ignores.
	Unknown []string
}

// Enabled reports whether the instance asks to be managed at all: a secret
// tag, or rotate mode (whose secret defaults to the config's template).
func (s Settings) Enabled() bool { return s.Secret != "" || s.Mode == ModeRotate }

// ParseTags resolves tags (full keys, as returned by a TagSource) against
// cfg. It only reads; guardrails that need the OS are in CheckUser and
// CheckGroups.
func ParseTags(tags map[string]string, cfg Config) (Settings, error) {
	s := Settings{User: cfg.User, Mode: ModePull}
	var errs []error
	for key, value := range tags {
		name, ok := strings.CutPrefix(key, cfg.TagPrefix)
		if !ok {
			continue
		}
		switch {
		case name == TagSecret:
			s.Secret = strings.TrimSpace(value)
		case name == TagUser:
			s.User = strings.TrimSpace(value)
		case name == TagGroups:
			s.Groups = splitList(value)
			if s.Groups == nil {
				s.Groups = []string{} // present but empty: no groups
			}
		case name == TagMode:
			s.Mode = strings.TrimSpace(value)
			if s.Mode != ModePull && s.Mode != ModeRotate {
				errs = append(errs, fmt.Errorf("tag %s: %q is not %q or %q", key, clip(s.Mode, 40), ModePull, ModeRotate))
			}
		case name == TagMaxAge:
			d, err := ParseDuration(value)
			if err == nil && d <= 0 {
				err = fmt.Errorf("invalid duration %q", value)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("tag %s: %w", key, err))
			}
			s.MaxAge = d
		case name == TagRotate:
			s.RotateNonce = strings.TrimSpace(value)
		case name == TagEnableUntil:
			if v := strings.TrimSpace(value); v != "" {
				t, err := time.Parse(time.RFC3339, v)
				if err != nil {
					errs = append(errs, fmt.Errorf("tag %s: %q is not an RFC 3339 time", key, clip(v, 40)))
				}
				s.EnableUntil = t
			}
		case name == TagStatus || strings.HasPrefix(name, TagStatus+":"):
			// our own report
		case knownTags[name]:
		default:
			s.Unknown = append(s.Unknown, key)
		}
	}
	sort.Strings(s.Unknown)
	if !s.Enabled() {
		return s, nil
	}
	if err := ValidUserName(s.User); err != nil {
		return s, fmt.Errorf("tag %s%s: %w", cfg.TagPrefix, TagUser, err)
	}
	if len(errs) > 0 {
		sortErrs(errs)
		return s, errs[0]
	}
	return s, nil
}

// sortErrs orders errors by text, so map order never changes the reason.
func sortErrs(errs []error) {
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
}

// IsReportKey tells whether a tag key (after the prefix) is the agent's own
// report, which a TagSource need not fetch.
func IsReportKey(name string) bool {
	return name == TagStatus || strings.HasPrefix(name, TagStatus+":")
}

func splitList(v string) []string {
	var out []string
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f != "" && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

var userNameRE = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)

// ValidUserName checks a user or group name against the portable pattern.
func ValidUserName(name string) error {
	if !userNameRE.MatchString(name) {
		return fmt.Errorf("%q is not a valid name (want %s)", clip(name, 40), userNameRE)
	}
	return nil
}

// adminGroups returns the distro's admin group(s) present on sys.
func adminGroups(sys System) []string {
	for _, g := range []string{"sudo", "wheel"} {
		if slices.Contains(sys.Groups, g) {
			return []string{g}
		}
	}
	return nil
}

// ResolveGroups picks the groups the user joins and checks them against the
// allow-list and the root's etc/group.
func ResolveGroups(s Settings, cfg Config, sys System) ([]string, error) {
	allowed := cfg.AllowedGroups
	if len(allowed) == 0 {
		allowed = adminGroups(sys)
	}
	groups := s.Groups
	if groups == nil {
		groups = cfg.Groups
		if len(groups) == 0 {
			groups = adminGroups(sys)
		}
		// The config's own list is the owner's choice: no allow-list check.
		allowed = append(slices.Clone(allowed), groups...)
	}
	for _, g := range groups {
		if !slices.Contains(allowed, g) {
			return nil, fmt.Errorf("group %q is not on the allow-list (%s)", clip(g, 40), strings.Join(allowed, ","))
		}
		if !slices.Contains(sys.Groups, g) {
			return nil, fmt.Errorf("group %q does not exist", g)
		}
	}
	return groups, nil
}

// CheckUser applies the guardrails that need the account database: root only
// with allow_root, and an existing account outside UID_MIN..UID_MAX (system
// accounts below, nobody and friends above) only if listed.
func CheckUser(name string, acct Account, exists bool, cfg Config, sys System) error {
	if name == "root" {
		if !cfg.AllowRoot {
			return fmt.Errorf("user %q refused: set allow_root: true in the config to manage root", name)
		}
		return nil
	}
	if exists && acct.UID < sys.UIDMin && !slices.Contains(cfg.AllowSystemUsers, name) {
		return fmt.Errorf("user %q refused: system account (UID %d < UID_MIN %d); list it in allow_system_users to manage it", name, acct.UID, sys.UIDMin)
	}
	if exists && sys.UIDMax > 0 && acct.UID > sys.UIDMax && !slices.Contains(cfg.AllowSystemUsers, name) {
		return fmt.Errorf("user %q refused: UID %d is above UID_MAX %d (a reserved account such as nobody); list it in allow_system_users to manage it", name, acct.UID, sys.UIDMax)
	}
	return nil
}

// clip shortens s for a message to at most n runes.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
