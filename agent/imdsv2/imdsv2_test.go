package imdsv2

import (
	"context"
	"errors"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/serialpass/serialpass/agent"
)

// fakeAPI serves metadata paths from a map; errs override paths.
type fakeAPI struct {
	paths map[string]string
	errs  map[string]error
	doc   imds.InstanceIdentityDocument
	// deleteAfterList removes keys from paths once the listing was read.
	deleteAfterList []string
	calls           []string
}

func (f *fakeAPI) GetMetadata(_ context.Context, in *imds.GetMetadataInput, _ ...func(*imds.Options)) (*imds.GetMetadataOutput, error) {
	f.calls = append(f.calls, in.Path)
	if err, ok := f.errs[in.Path]; ok {
		return nil, err
	}
	v, ok := f.paths[in.Path]
	if !ok {
		return nil, httpErr(http.StatusNotFound)
	}
	if in.Path == tagsPath {
		for _, k := range f.deleteAfterList {
			delete(f.paths, tagsPath+"/"+k)
		}
	}
	return &imds.GetMetadataOutput{Content: io.NopCloser(strings.NewReader(v))}, nil
}

func (f *fakeAPI) GetInstanceIdentityDocument(_ context.Context, _ *imds.GetInstanceIdentityDocumentInput, _ ...func(*imds.Options)) (*imds.GetInstanceIdentityDocumentOutput, error) {
	f.calls = append(f.calls, "identity-document")
	if err, ok := f.errs["identity-document"]; ok {
		return nil, err
	}
	return &imds.GetInstanceIdentityDocumentOutput{InstanceIdentityDocument: f.doc}, nil
}

// httpErr is the error the SDK returns for a non-2xx answer.
func httpErr(code int) error {
	return &smithy.OperationError{ServiceID: "ec2imds", OperationName: "GetMetadata", Err: &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: code}},
		Err:      errors.New("EC2 IMDS failed"),
	}}
}

func refusedErr() error {
	return &smithy.OperationError{ServiceID: "ec2imds", OperationName: "GetMetadata", Err: &smithyhttp.RequestSendError{
		Err: &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)},
	}}
}

func tagPaths(tags map[string]string) map[string]string {
	paths := map[string]string{tagsPath: strings.Join(slices.Sorted(maps.Keys(tags)), "\n")}
	for k, v := range tags {
		paths[tagsPath+"/"+k] = v
	}
	return paths
}

func TestTags(t *testing.T) {
	base := map[string]string{
		"Name":                   "web-1",
		"serialpass:secret":      "prod/serial",
		"serialpass:user":        "ec2-serial",
		"serialpass:status":      "ready",
		"serialpass:status:time": "2026-01-01T00:00:00Z",
		"serialpass:a+b=c@d,e.f": "odd-key",
	}
	tests := []struct {
		name      string
		api       *fakeAPI
		want      map[string]string
		wantErr   error
		notCalled []string
	}{
		{
			name: "reads only prefixed keys and skips report keys",
			api:  &fakeAPI{paths: tagPaths(base)},
			want: map[string]string{
				"serialpass:secret":      "prod/serial",
				"serialpass:user":        "ec2-serial",
				"serialpass:a+b=c@d,e.f": "odd-key",
			},
			notCalled: []string{tagsPath + "/Name", tagsPath + "/serialpass:status", tagsPath + "/serialpass:status:time"},
		},
		{
			name: "listing with CRLF and blank lines",
			api: &fakeAPI{paths: map[string]string{
				tagsPath: "serialpass:secret\r\n\r\nOther\n", tagsPath + "/serialpass:secret": "s",
			}},
			want: map[string]string{"serialpass:secret": "s"},
		},
		{
			name: "no prefixed keys gives an empty map",
			api:  &fakeAPI{paths: tagPaths(map[string]string{"Name": "x"})},
			want: map[string]string{},
		},
		{
			name: "key deleted between list and get is skipped",
			api: &fakeAPI{
				paths:           tagPaths(map[string]string{"serialpass:secret": "s", "serialpass:user": "u"}),
				deleteAfterList: []string{"serialpass:user"},
			},
			want: map[string]string{"serialpass:secret": "s"},
		},
		{
			name:    "404 listing means tags disabled",
			api:     &fakeAPI{paths: map[string]string{}},
			wantErr: agent.ErrTagsDisabled,
		},
		{
			name:    "empty listing means tags disabled",
			api:     &fakeAPI{paths: map[string]string{tagsPath: "\n"}},
			wantErr: agent.ErrTagsDisabled,
		},
		{
			name:    "connection refused is unreachable",
			api:     &fakeAPI{errs: map[string]error{tagsPath: refusedErr()}},
			wantErr: agent.ErrUnreachable,
		},
		{
			name:    "500 after retries is unreachable",
			api:     &fakeAPI{errs: map[string]error{tagsPath: httpErr(500)}},
			wantErr: agent.ErrUnreachable,
		},
		{
			name: "value read failure is returned",
			api: &fakeAPI{
				paths: tagPaths(map[string]string{"serialpass:secret": "s"}),
				errs:  map[string]error{tagsPath + "/serialpass:secret": refusedErr()},
			},
			wantErr: agent.ErrUnreachable,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := newSource(tt.api).Tags(t.Context(), "serialpass:")
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Tags() error = %v, want one wrapping %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Tags() error = %v", err)
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("Tags() = %v, want %v", got, tt.want)
			}
			for _, p := range tt.notCalled {
				if slices.Contains(tt.api.calls, p) {
					t.Errorf("fetched %s; calls %v", p, tt.api.calls)
				}
			}
		})
	}
}

func TestTagsErrorKinds(t *testing.T) {
	tests := []struct {
		name            string
		err             error
		wantUnreachable bool
	}{
		{"401 is not unreachable", httpErr(401), false},
		{"403 is not unreachable", httpErr(403), false},
		{"503 is unreachable", httpErr(503), true},
		{"429 is unreachable", httpErr(429), true},
		{"refused is unreachable", refusedErr(), true},
		{"DNS failure is unreachable", &net.DNSError{Err: "no such host", Name: "imds.invalid"}, true},
		{"deadline is unreachable", context.DeadlineExceeded, true},
		{"caller cancel is not unreachable", &smithy.CanceledError{Err: context.Canceled}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := newSource(&fakeAPI{errs: map[string]error{tagsPath: tt.err}})
			_, err := src.Tags(t.Context(), "serialpass:")
			if err == nil {
				t.Fatal("Tags() succeeded, want an error")
			}
			if got := errors.Is(err, agent.ErrUnreachable); got != tt.wantUnreachable {
				t.Errorf("errors.Is(%v, ErrUnreachable) = %v, want %v", err, got, tt.wantUnreachable)
			}
			if errors.Is(err, agent.ErrTagsDisabled) {
				t.Errorf("error %v wraps ErrTagsDisabled", err)
			}
		})
	}
}

func TestIdentity(t *testing.T) {
	doc := imds.InstanceIdentityDocument{InstanceID: "i-0abc", Region: "eu-west-3", InstanceType: "t3.nano"}
	tests := []struct {
		name    string
		api     *fakeAPI
		want    agent.Identity
		wantErr error
	}{
		{
			name: "from the identity document in one call",
			api:  &fakeAPI{doc: doc},
			want: agent.Identity{InstanceID: "i-0abc", Region: "eu-west-3", InstanceType: "t3.nano"},
		},
		{
			name:    "refused is unreachable",
			api:     &fakeAPI{errs: map[string]error{"identity-document": refusedErr()}},
			wantErr: agent.ErrUnreachable,
		},
		{
			name:    "document without instance id is an error",
			api:     &fakeAPI{doc: imds.InstanceIdentityDocument{Region: "eu-west-3"}},
			wantErr: errors.New("any"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := newSource(tt.api).Identity(t.Context())
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("Identity() = %+v, want an error", got)
				}
				if errors.Is(tt.wantErr, agent.ErrUnreachable) && !errors.Is(err, agent.ErrUnreachable) {
					t.Fatalf("Identity() error = %v, want one wrapping ErrUnreachable", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Identity() error = %v", err)
			}
			if got != tt.want {
				t.Errorf("Identity() = %+v, want %+v", got, tt.want)
			}
			if len(tt.api.calls) != 1 {
				t.Errorf("calls = %v, want exactly one", tt.api.calls)
			}
		})
	}
}

// The SDK's token errors hide their cause; the observed last attempt
// decides then.
func TestClassifyOpaqueTokenErrors(t *testing.T) {
	opaque := errors.New("operation error ec2imds: GetMetadata, failed to get API token")
	tests := []struct {
		name            string
		status          int
		attemptErr      error
		wantUnreachable bool
	}{
		{"last attempt refused", 0, &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, true},
		{"last attempt 503", 503, nil, true},
		{"last attempt 403", 403, nil, false},
		{"nothing observed", 0, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, seen := withAttempts(t.Context())
			resp := &http.Response{StatusCode: tt.status}
			seen.note(resp, tt.attemptErr)
			err := classify(ctx, opaque, seen)
			if got := errors.Is(err, agent.ErrUnreachable); got != tt.wantUnreachable {
				t.Errorf("classify = %v; unreachable %v, want %v", err, got, tt.wantUnreachable)
			}
			if !errors.Is(err, opaque) {
				t.Errorf("classify = %v, lost the original error", err)
			}
		})
	}
}
