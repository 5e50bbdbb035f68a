package ec2tags

import (
	"context"
	"errors"
	"maps"
	"net"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/serialpass/serialpass/agent"
	"github.com/serialpass/serialpass/internal/testbed"
)

const instanceID = "i-0123456789abcdef0"

type fakeAPI struct {
	err     error
	enabled *bool
	in      *ec2.CreateTagsInput
}

func (f *fakeAPI) CreateTags(_ context.Context, in *ec2.CreateTagsInput, _ ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error) {
	f.in = in
	return &ec2.CreateTagsOutput{}, f.err
}

func (f *fakeAPI) GetSerialConsoleAccessStatus(context.Context, *ec2.GetSerialConsoleAccessStatusInput, ...func(*ec2.Options)) (*ec2.GetSerialConsoleAccessStatusOutput, error) {
	return &ec2.GetSerialConsoleAccessStatusOutput{SerialConsoleAccessEnabled: f.enabled}, f.err
}

func apiErr(code string) error {
	return &smithy.OperationError{ServiceID: "EC2", OperationName: "CreateTags", Err: &smithy.GenericAPIError{Code: code, Message: "from the fake"}}
}

func TestErrorMapping(t *testing.T) {
	connRefused := &smithy.OperationError{Err: &smithyhttp.RequestSendError{Err: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}}}
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"request limit", apiErr("RequestLimitExceeded"), agent.ErrThrottled},
		{"unauthorized", apiErr("UnauthorizedOperation"), agent.ErrAccessDenied},
		{"auth failure", apiErr("AuthFailure"), agent.ErrAccessDenied},
		{"unreachable", connRefused, agent.ErrUnreachable},
		{"other", apiErr("InvalidInstanceID.Malformed"), nil},
	}
	sentinels := []error{agent.ErrThrottled, agent.ErrAccessDenied, agent.ErrUnreachable}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newWithClient(&fakeAPI{err: tt.err})
			for what, err := range map[string]error{
				"Report":          r.Report(context.Background(), instanceID, map[string]string{"k": "v"}),
				"CheckCreateTags": r.CheckCreateTags(context.Background(), instanceID),
			} {
				if !errors.Is(err, tt.err) {
					t.Errorf("%s: error %v does not keep the SDK's error", what, err)
				}
				for _, sen := range sentinels {
					if got := errors.Is(err, sen); got != (sen == tt.want) {
						t.Errorf("%s: errors.Is(%v, %v) = %v", what, err, sen, got)
					}
				}
			}
		})
	}
}

func TestFakes(t *testing.T) {
	ctx := context.Background()
	t.Run("dry run allowed", func(t *testing.T) {
		f := &fakeAPI{err: apiErr("DryRunOperation")}
		if err := newWithClient(f).CheckCreateTags(ctx, instanceID); err != nil {
			t.Fatalf("CheckCreateTags = %v", err)
		}
		if !aws.ToBool(f.in.DryRun) {
			t.Error("CheckCreateTags did not set DryRun")
		}
	})
	t.Run("dry run answered success", func(t *testing.T) {
		if err := newWithClient(&fakeAPI{}).CheckCreateTags(ctx, instanceID); err == nil {
			t.Fatal("CheckCreateTags accepted a real success to a dry run")
		}
	})
	t.Run("report sends sorted tags", func(t *testing.T) {
		f := &fakeAPI{}
		if err := newWithClient(f).Report(ctx, instanceID, map[string]string{"b": "2", "a": "1"}); err != nil {
			t.Fatal(err)
		}
		if len(f.in.Tags) != 2 || aws.ToString(f.in.Tags[0].Key) != "a" || f.in.Resources[0] != instanceID || f.in.DryRun != nil {
			t.Errorf("CreateTags input = %+v", f.in)
		}
	})
	t.Run("serial console enabled", func(t *testing.T) {
		enabled, known, err := newWithClient(&fakeAPI{enabled: aws.Bool(true)}).SerialConsoleAccess(ctx)
		if !enabled || !known || err != nil {
			t.Errorf("SerialConsoleAccess = %v, %v, %v", enabled, known, err)
		}
	})
	t.Run("serial console denied", func(t *testing.T) {
		_, known, err := newWithClient(&fakeAPI{err: apiErr("UnauthorizedOperation")}).SerialConsoleAccess(ctx)
		if known || !errors.Is(err, agent.ErrAccessDenied) {
			t.Errorf("SerialConsoleAccess = known %v, %v", known, err)
		}
	})
}

// TestNoThrottleRetry: throttling errors are not retried, other errors
// keep the SDK's own verdict.
func TestNoThrottleRetry(t *testing.T) {
	r := noThrottleRetry{retry.NewStandard()}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"RequestLimitExceeded", apiErr("RequestLimitExceeded"), false},
		{"Throttling", apiErr("Throttling"), false},
		{"RequestTimeout", apiErr("RequestTimeout"), true},
		{"connection refused", &smithyhttp.RequestSendError{Err: errors.New("connection refused")}, true},
		{"UnauthorizedOperation", apiErr("UnauthorizedOperation"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := r.IsErrorRetryable(tt.err); got != tt.want {
				t.Errorf("IsErrorRetryable = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMoto(t *testing.T) {
	m := testbed.StartMoto(t)
	p := testbed.NewProxy(t, m.Endpoint)
	r := New(testbed.MotoConfigAt(p.URL()), func(o *ec2.Options) { o.RetryMaxAttempts = 1 })
	ctx := context.Background()

	t.Run("report", func(t *testing.T) {
		want := map[string]string{"serialpass:status": "ready", "serialpass:status:version": "v-1", "serialpass:status:reason": ""}
		if err := r.Report(ctx, instanceID, want); err != nil {
			t.Fatalf("Report: %v", err)
		}
		if got := m.InstanceTags(t, instanceID); !maps.Equal(got, want) {
			t.Fatalf("tags = %v, want %v", got, want)
		}
	})

	t.Run("dry run tags nothing", func(t *testing.T) {
		const other = "i-0fedcba9876543210"
		if err := r.CheckCreateTags(ctx, other); err != nil {
			t.Fatalf("CheckCreateTags: %v", err)
		}
		if got := m.InstanceTags(t, other); len(got) != 0 {
			t.Fatalf("a dry run wrote tags: %v", got)
		}
	})

	t.Run("throttled", func(t *testing.T) {
		p.Throttle("CreateTags", 1)
		if err := r.Report(ctx, instanceID, map[string]string{"k": "v"}); !errors.Is(err, agent.ErrThrottled) {
			t.Fatalf("Report = %v, want ErrThrottled", err)
		}
	})

	t.Run("throttling is not retried by the SDK", func(t *testing.T) {
		// With the SDK's default retries: a throttled CreateTags is one
		// request, and the caller's backoff decides when to try again.
		p.Reset()
		p.Throttle("CreateTags", 3)
		def := New(testbed.MotoConfigAt(p.URL()))
		if err := def.Report(ctx, instanceID, map[string]string{"k": "v"}); !errors.Is(err, agent.ErrThrottled) {
			t.Fatalf("Report = %v, want ErrThrottled", err)
		}
		if n := p.Count("CreateTags"); n != 1 {
			t.Errorf("%d CreateTags requests, want 1", n)
		}
	})

	t.Run("serial console status is unknown on moto", func(t *testing.T) {
		// moto 5.2 answers GetSerialConsoleAccessStatus with HTTP 500:
		// doctor must say "unknown", not "disabled". If moto learns the
		// call, this test fails and doctor's moto expectations change.
		p.Reset()
		enabled, known, err := r.SerialConsoleAccess(ctx)
		if known || enabled || err == nil {
			t.Fatalf("SerialConsoleAccess = %v, %v, %v; want unknown with an error", enabled, known, err)
		}
		if n := p.Count("GetSerialConsoleAccessStatus"); n != 1 {
			t.Errorf("%d requests, want 1 (no retries)", n)
		}
		t.Logf("as doctor will see it: %v", err)
	})
}
