package secrets

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/serialpass/serialpass/agent"
	"github.com/serialpass/serialpass/internal/testbed"
)

// fakeAPI answers every call with err, or with its canned outputs, and
// keeps the last inputs.
type fakeAPI struct {
	err    error
	get    *secretsmanager.GetSecretValueOutput
	getIn  *secretsmanager.GetSecretValueInput
	putIn  *secretsmanager.PutSecretValueInput
	moveIn *secretsmanager.UpdateSecretVersionStageInput
}

func (f *fakeAPI) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	f.getIn = in
	return f.get, f.err
}

func (f *fakeAPI) DescribeSecret(context.Context, *secretsmanager.DescribeSecretInput, ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error) {
	return &secretsmanager.DescribeSecretOutput{}, f.err
}

func (f *fakeAPI) CreateSecret(context.Context, *secretsmanager.CreateSecretInput, ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error) {
	return &secretsmanager.CreateSecretOutput{}, f.err
}

func (f *fakeAPI) PutSecretValue(_ context.Context, in *secretsmanager.PutSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	f.putIn = in
	return &secretsmanager.PutSecretValueOutput{VersionId: in.ClientRequestToken}, f.err
}

func (f *fakeAPI) UpdateSecretVersionStage(_ context.Context, in *secretsmanager.UpdateSecretVersionStageInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretVersionStageOutput, error) {
	f.moveIn = in
	return &secretsmanager.UpdateSecretVersionStageOutput{}, f.err
}

func apiErr(code string) error {
	return &smithy.OperationError{ServiceID: "Secrets Manager", OperationName: "Op", Err: &smithy.GenericAPIError{Code: code, Message: "from the fake"}}
}

func TestErrorMapping(t *testing.T) {
	connRefused := &smithy.OperationError{Err: &smithyhttp.RequestSendError{Err: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}}}
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"not found", &types.ResourceNotFoundException{Message: aws.String("nope")}, agent.ErrSecretNotFound},
		{"not found generic", apiErr("ResourceNotFoundException"), agent.ErrSecretNotFound},
		{"access denied", apiErr("AccessDeniedException"), agent.ErrAccessDenied},
		{"throttling", apiErr("ThrottlingException"), agent.ErrThrottled},
		{"request limit", apiErr("RequestLimitExceeded"), agent.ErrThrottled},
		{"too many requests", apiErr("TooManyRequestsException"), agent.ErrThrottled},
		{"exists", &types.ResourceExistsException{Message: aws.String("taken")}, agent.ErrSecretExists},
		{"invalid parameter", apiErr("InvalidParameterException"), ErrInvalidRequest},
		{"connection refused", connRefused, agent.ErrUnreachable},
		{"other", apiErr("InternalServiceError"), nil},
	}
	sentinels := []error{agent.ErrSecretNotFound, agent.ErrAccessDenied, agent.ErrThrottled, agent.ErrSecretExists, agent.ErrUnreachable, ErrInvalidRequest}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newWithClient(&fakeAPI{err: tt.err})
			_, err := s.GetSecret(context.Background(), "sec", "")
			if !errors.Is(err, tt.err) {
				t.Errorf("error %v does not keep the SDK's error", err)
			}
			for _, sen := range sentinels {
				if got := errors.Is(err, sen); got != (sen == tt.want) {
					t.Errorf("errors.Is(%v, %v) = %v", err, sen, got)
				}
			}
		})
	}
}

func TestErrorsNeverCarryTheValue(t *testing.T) {
	const value = "s3cret-Value!"
	// An API whose error quotes the request, as no real one should.
	f := &fakeAPI{err: apiErr("ValidationException: bad SecretString " + value)}
	s := newWithClient(f)
	ctx := context.Background()
	_, err := s.PutSecretValue(ctx, "sec", "", agent.NewPassword(value), nil)
	if err == nil || strings.Contains(err.Error(), value) {
		t.Errorf("PutSecretValue error = %v", err)
	}
	_, err = s.CreateSecret(ctx, agent.NewSecret{Name: "sec", Value: agent.NewPassword(value)})
	if err == nil || strings.Contains(err.Error(), value) {
		t.Errorf("CreateSecret error = %v", err)
	}
}

func TestRequests(t *testing.T) {
	ctx := context.Background()
	t.Run("GetSecret always names the stage", func(t *testing.T) {
		f := &fakeAPI{get: &secretsmanager.GetSecretValueOutput{SecretString: aws.String("x"), VersionId: aws.String("v")}}
		if _, err := newWithClient(f).GetSecret(ctx, "sec", ""); err != nil {
			t.Fatal(err)
		}
		if aws.ToString(f.getIn.VersionStage) != agent.StageCurrent || f.getIn.VersionId != nil {
			t.Errorf("GetSecretValue input = %+v", f.getIn)
		}
	})
	t.Run("binary secrets are refused", func(t *testing.T) {
		f := &fakeAPI{get: &secretsmanager.GetSecretValueOutput{SecretBinary: []byte("x")}}
		if _, err := newWithClient(f).GetSecret(ctx, "sec", ""); err == nil {
			t.Error("no error for a binary secret")
		}
	})
	t.Run("put sends token and stages", func(t *testing.T) {
		f := &fakeAPI{}
		id, err := newWithClient(f).PutSecretValue(ctx, "sec", tok(1), agent.NewPassword("x"), []string{agent.StagePending})
		if err != nil || id != tok(1) {
			t.Fatalf("PutSecretValue = %q, %v", id, err)
		}
		if aws.ToString(f.putIn.ClientRequestToken) != tok(1) || len(f.putIn.VersionStages) != 1 {
			t.Errorf("PutSecretValue input = %+v", f.putIn)
		}
	})
	t.Run("move leaves empty versions out", func(t *testing.T) {
		f := &fakeAPI{}
		if err := newWithClient(f).UpdateSecretVersionStage(ctx, "sec", agent.StagePending, "", "v1"); err != nil {
			t.Fatal(err)
		}
		if f.moveIn.MoveToVersionId != nil || aws.ToString(f.moveIn.RemoveFromVersionId) != "v1" {
			t.Errorf("UpdateSecretVersionStage input = %+v", f.moveIn)
		}
	})
}

// TestAWSThrottledThroughProxy checks the mapping on the wire: a real SDK
// client, moto behind a proxy answering AWS's throttling error.
func TestAWSThrottledThroughProxy(t *testing.T) {
	m := testbed.StartMoto(t)
	p := testbed.NewProxy(t, m.Endpoint)
	m.CreateSecret(t, "throttled", "value-1")
	s := New(testbed.MotoConfigAt(p.URL()), func(o *secretsmanager.Options) { o.RetryMaxAttempts = 1 })
	p.Throttle("GetSecretValue", 1)
	_, err := s.GetSecret(context.Background(), "throttled", "")
	if !errors.Is(err, agent.ErrThrottled) {
		t.Fatalf("GetSecret = %v, want ErrThrottled", err)
	}
	got, err := s.GetSecret(context.Background(), "throttled", "")
	if err != nil || string(got.Value.Reveal()) != "value-1" {
		t.Fatalf("GetSecret after the fault = %v", err)
	}
}

func TestAWSUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	s := New(testbed.MotoConfigAt("http://"+addr), func(o *secretsmanager.Options) { o.RetryMaxAttempts = 1 })
	if _, err := s.GetSecret(context.Background(), "x", ""); !errors.Is(err, agent.ErrUnreachable) {
		t.Fatalf("GetSecret = %v, want ErrUnreachable", err)
	}
}
