package docs_test

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/serialpass/serialpass/agent"
)

// TestBreakGlassDoc holds the runbook to the agent: every serialpass:* tag
// key it names is one the agent reads or writes, every config key it names
// is in the packaged config file, and every status it names is one the
// agent reports.
func TestBreakGlassDoc(t *testing.T) {
	data, err := os.ReadFile("break-glass.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	a := &agent.Agent{Config: agent.DefaultConfig()}
	known := map[string]bool{}
	for k := range a.ReportTags(agent.Report{LastLogin: time.Now()}) {
		known[k] = true
	}
	for _, k := range []string{agent.TagSecret, agent.TagUser, agent.TagGroups, agent.TagMode, agent.TagMaxAge,
		agent.TagRotate, agent.TagEnableUntil} {
		known[a.Config.TagPrefix+k] = true
	}
	for _, m := range regexp.MustCompile("serialpass:[a-z][a-z:-]*[a-z]").FindAllString(doc, -1) {
		if !known[m] {
			t.Errorf("break-glass.md names the tag %q, which the agent neither reads nor writes", m)
		}
	}
	config, err := os.ReadFile("../packaging/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile("`([a-z]+_[a-z_]+)").FindAllStringSubmatch(doc, -1) {
		if !regexp.MustCompile(`(?m)^#?` + m[1] + `:`).Match(config) {
			t.Errorf("break-glass.md names the config key %q, which packaging/config.yaml does not have", m[1])
		}
	}
	statuses := []string{agent.StatusReady, agent.StatusError, agent.StatusRotating, agent.StatusExpired, agent.StatusDisabled}
	_, sentence, _ := strings.Cut(doc, "`serialpass:status` is ")
	sentence, _, _ = strings.Cut(sentence, ". ")
	var named []string
	for _, m := range regexp.MustCompile("`([a-z]+)`").FindAllStringSubmatch(sentence, -1) {
		named = append(named, m[1])
	}
	slices.Sort(named)
	slices.Sort(statuses)
	if !slices.Equal(named, statuses) {
		t.Errorf("break-glass.md lists the statuses %q, want the agent's %q", named, statuses)
	}
}
