package daemon

import (
	"strings"
	"time"

	"github.com/serialpass/serialpass/agent"
)

// StatusLine renders a pass as the one-line STATUS= text systemctl status
// shows, for example "ready: user=ec2-serial version=... at 2026-...Z".
// secretTag names the tag that enables the agent ("serialpass:secret" when
// empty).
func StatusLine(res agent.Result, at time.Time, secretTag string) string {
	if secretTag == "" {
		secretTag = agent.DefaultConfig().TagPrefix + agent.TagSecret
	}
	stamp := at.UTC().Truncate(time.Second).Format(time.RFC3339)
	var s string
	switch {
	case res.Err != nil:
		s = "error: " + agent.Reason(res.Err) + " (at " + stamp + ")"
	case res.Status == agent.StatusReady:
		s = "ready: user=" + res.User + " version=" + res.VersionID + " at " + stamp
	case res.Status == agent.StatusDisabled:
		s = "disabled: no " + secretTag + " tag (at " + stamp + ")"
	default:
		s = res.Status + " (at " + stamp + ")"
	}
	// One line, whatever the fields hold.
	return strings.Join(strings.Fields(s), " ")
}
