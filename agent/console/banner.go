package console

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/serialpass/serialpass/agent"
)

// IssuePath is shown by agetty above the login prompt (agetty reads
// /etc/issue.d/*.issue).
const IssuePath = "etc/issue.d/serialpass.issue"

// BannerLog is where Banner writes under a root other than "/".
const BannerLog = "var/log/serialpass/console.log"

// BannerLine renders res as the one console line: never the password, only
// the user, the secret's name and the start of its VersionId.
func BannerLine(res agent.Result, at time.Time) string {
	ts := at.UTC().Format(time.RFC3339)
	switch res.Status {
	case agent.StatusReady:
		return fmt.Sprintf("serialpass: ready user=%s secret=%s version=%s at %s",
			res.User, res.Secret, short(res.VersionID), ts)
	case agent.StatusDisabled:
		return "serialpass: disabled (no secret tag) at " + ts
	default:
		reason := res.Reason
		if reason == "" && res.Err != nil {
			reason = agent.Reason(res.Err)
		}
		// error, rotating, expired: the status word, then why.
		return strings.TrimSpace(fmt.Sprintf("serialpass: %s %s", res.Status, oneLine(reason))) + " at " + ts
	}
}

func short(v string) string {
	if len(v) > 8 {
		return v[:8]
	}
	return v
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// issueText is what the person at the console reads above the prompt.
// agetty expands backslash escapes in issue files: ours are doubled.
func issueText(res agent.Result) string {
	esc := strings.NewReplacer(`\`, `\\`)
	var b strings.Builder
	switch res.Status {
	case agent.StatusReady:
		fmt.Fprintf(&b, "serialpass: log in as %s; the password is the AWSCURRENT value of the\n"+
			"AWS Secrets Manager secret %s (version %s).\n", res.User, res.Secret, short(res.VersionID))
	default:
		fmt.Fprintf(&b, "serialpass: the serial-console login is NOT ready: %s\n", oneLine(res.Reason))
		if res.User != "" && res.Secret != "" {
			fmt.Fprintf(&b, "It would be user %s with the password in AWS Secrets Manager secret %s.\n", res.User, res.Secret)
		}
	}
	return esc.Replace(b.String()) + "\n"
}

// Banner writes the state line to the console and rewrites the issue
// file (removed when the instance is not managed). Call it when the state
// changes: every call writes a line.
func (c *Console) Banner(_ context.Context, res agent.Result, at time.Time) error {
	line := BannerLine(res, at)
	if err := c.writeConsole(line); err != nil {
		return err
	}
	if res.Status == agent.StatusDisabled {
		_, err := c.remove(IssuePath)
		return err
	}
	return c.write(IssuePath, []byte(issueText(res)), 0o644)
}

func (c *Console) writeConsole(line string) error {
	p := c.ConsolePath
	switch {
	case p != "":
	case c.live():
		p = "/dev/console"
	default:
		p = c.path(BannerLog)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("writing the banner: %w", err)
		}
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_NOCTTY, 0o644)
	if err != nil {
		return fmt.Errorf("writing the banner to %s: %w", p, err)
	}
	_, err = f.WriteString(line + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing the banner to %s: %w", p, err)
	}
	return nil
}
