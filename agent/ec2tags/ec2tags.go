// Package ec2tags reports the agent's status as tags on its own instance
// through ec2:CreateTags, and answers doctor's EC2 questions.
package ec2tags

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	"github.com/serialpass/serialpass/agent"
	"github.com/serialpass/serialpass/agent/awserr"
)

// DryRunTagKey is the tag CheckCreateTags asks permission for; IAM
// policies that limit the keys serialpass may write must allow it.
const DryRunTagKey = "serialpass:status"

// api holds exactly the EC2 calls Reporter makes.
type api interface {
	CreateTags(ctx context.Context, in *ec2.CreateTagsInput, optFns ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error)
	GetSerialConsoleAccessStatus(ctx context.Context, in *ec2.GetSerialConsoleAccessStatusInput, optFns ...func(*ec2.Options)) (*ec2.GetSerialConsoleAccessStatusOutput, error)
}

// Reporter is an agent.StatusReporter writing instance tags.
type Reporter struct {
	api api
}

var _ agent.StatusReporter = (*Reporter)(nil)

// New returns a Reporter using an EC2 client built from cfg.
func New(cfg aws.Config, optFns ...func(*ec2.Options)) *Reporter {
	return newWithClient(ec2.NewFromConfig(cfg, optFns...))
}

func newWithClient(c api) *Reporter { return &Reporter{api: c} }

// Report writes tags on instanceID in one CreateTags call.
func (r *Reporter) Report(ctx context.Context, instanceID string, tags map[string]string) error {
	if len(tags) == 0 {
		return nil
	}
	in := &ec2.CreateTagsInput{Resources: []string{instanceID}}
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		in.Tags = append(in.Tags, types.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
	}
	if _, err := r.api.CreateTags(ctx, in, withoutThrottleRetries); err != nil {
		return fmt.Errorf("tagging instance %s: %w", instanceID, mapError(err))
	}
	return nil
}

// withoutThrottleRetries leaves a throttled CreateTags to the caller
// (agent.ErrThrottled; the daemon retries the report alone after
// daemon.ThrottleDelay). The SDK's own retries come within a second or
// two, while a fleet booting together still finds the bucket empty, and
// only add calls. Other retryable errors keep the SDK's retries.
func withoutThrottleRetries(o *ec2.Options) {
	if v2, ok := o.Retryer.(aws.RetryerV2); ok {
		o.Retryer = noThrottleRetry{v2}
	}
}

// noThrottleRetry is a retryer that does not retry throttling errors.
type noThrottleRetry struct{ aws.RetryerV2 }

var throttles = retry.IsErrorThrottles(retry.DefaultThrottles)

func (r noThrottleRetry) IsErrorRetryable(err error) bool {
	return throttles.IsErrorThrottle(err) != aws.TrueTernary && r.RetryerV2.IsErrorRetryable(err)
}

// CheckCreateTags asks EC2 whether CreateTags on instanceID would be
// allowed, without tagging (DryRun). nil means allowed; a refusal wraps
// agent.ErrAccessDenied.
func (r *Reporter) CheckCreateTags(ctx context.Context, instanceID string) error {
	_, err := r.api.CreateTags(ctx, &ec2.CreateTagsInput{
		DryRun:    aws.Bool(true),
		Resources: []string{instanceID},
		Tags:      []types.Tag{{Key: aws.String(DryRunTagKey), Value: aws.String("dry-run")}},
	})
	var ae smithy.APIError
	switch {
	case errors.As(err, &ae) && ae.ErrorCode() == "DryRunOperation":
		return nil
	case err == nil:
		return fmt.Errorf("dry-run CreateTags on %s: the API answered success instead of DryRunOperation", instanceID)
	}
	return fmt.Errorf("dry-run CreateTags on %s: %w", instanceID, mapError(err))
}

// SerialConsoleAccess reports whether the account allows EC2 Serial
// Console access in this region. known is false when the API gave no
// answer (err says why), as moto's HTTP 500 or a missing permission do,
// so doctor can say "unknown". The call is not retried.
func (r *Reporter) SerialConsoleAccess(ctx context.Context) (enabled, known bool, err error) {
	out, err := r.api.GetSerialConsoleAccessStatus(ctx, &ec2.GetSerialConsoleAccessStatusInput{},
		func(o *ec2.Options) { o.RetryMaxAttempts = 1 })
	if err != nil {
		return false, false, fmt.Errorf("getting serial console access status: %w", mapError(err))
	}
	if out.SerialConsoleAccessEnabled == nil {
		return false, false, errors.New("getting serial console access status: the answer has no SerialConsoleAccessEnabled")
	}
	return *out.SerialConsoleAccessEnabled, true, nil
}

// mapError puts the agent's sentinel in front of the SDK's error, keeping
// the SDK's error in the chain.
func mapError(err error) error { return awserr.Map(err, nil) }
