package agent

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestRetryReport: a pass whose only failure is its report says so
// (Unreported), and RetryReport sends that outcome alone: no tag read, no
// Secrets Manager call, no account change, and nothing once the tags carry
// it.
func TestRetryReport(t *testing.T) {
	throttled := fmt.Errorf("tagging instance i-1: %w", ErrThrottled)
	ctx := context.Background()
	r := newRig(t, map[string]string{"serialpass:secret": "fleet/console"})
	r.secrets.put("fleet/console", "v1", goodPW)

	r.reporter.err = throttled
	res := r.agent.Pass(ctx)
	if res.OK() || !res.Unreported || !errors.Is(res.Err, ErrThrottled) || res.Status != StatusReady || !res.Changed {
		t.Fatalf("pass with a throttled report = %+v, want ready, changed, Unreported with ErrThrottled", res)
	}
	tagReads, secretCalls, accountCalls := r.tags.calls, r.secrets.calls, len(r.accounts.calls)

	steps := []struct {
		name       string
		err        error
		advance    time.Duration
		wantErr    bool
		wantReport bool
	}{
		{name: "still throttled", err: throttled, advance: 8 * time.Second, wantErr: true},
		{name: "sent", advance: 16 * time.Second, wantReport: true},
		{name: "nothing left to send", advance: time.Minute},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			r.reporter.err = st.err
			r.agent.Clock.(*fakeClock).now = r.agent.Clock.Now().Add(st.advance)
			before := len(r.reporter.reports)
			res := r.agent.RetryReport(ctx)
			if (res.Err != nil) != st.wantErr || res.Unreported != st.wantErr {
				t.Fatalf("RetryReport = %+v, want error %v", res, st.wantErr)
			}
			if res.Status != StatusReady || res.VersionID != "v1" || res.User != "ec2-serial" {
				t.Errorf("RetryReport = %+v, want the last pass's outcome", res)
			}
			sent := len(r.reporter.reports) - before
			if sent != map[bool]int{true: 1}[st.wantReport] || res.Reported != st.wantReport {
				t.Fatalf("%d reports sent (Reported %v), want report %v", sent, res.Reported, st.wantReport)
			}
			if st.wantReport {
				got := r.reporter.reports[len(r.reporter.reports)-1]
				if got["serialpass:status"] != StatusReady || got["serialpass:status:time"] != r.agent.Clock.Now().UTC().Format(time.RFC3339) {
					t.Errorf("report = %v, want ready at the time of the retry", got)
				}
			}
			if r.tags.calls != tagReads || r.secrets.calls != secretCalls || len(r.accounts.calls) != accountCalls {
				t.Errorf("RetryReport read tags, the secret or changed the account: %d %d %v", r.tags.calls, r.secrets.calls, r.accounts.calls)
			}
		})
	}
	t.Run("the next pass is steady", func(t *testing.T) {
		before := len(r.reporter.reports)
		if res := r.agent.Pass(ctx); !res.OK() || res.Changed || res.Reported {
			t.Errorf("pass after the retried report = %+v, want steady", res)
		}
		if len(r.reporter.reports) != before {
			t.Error("the steady pass reported again")
		}
	})
}

// TestUnreportedOnlyWhenTheWorkSucceeded: a pass that failed at its work
// and at its report must run again, not just report.
func TestUnreportedOnlyWhenTheWorkSucceeded(t *testing.T) {
	r := newRig(t, map[string]string{"serialpass:secret": "fleet/missing"})
	r.reporter.err = fmt.Errorf("tagging: %w", ErrThrottled)
	res := r.agent.Pass(context.Background())
	if res.OK() || res.Unreported || res.Status != StatusError {
		t.Fatalf("pass = %+v, want an error that is not Unreported", res)
	}
}
