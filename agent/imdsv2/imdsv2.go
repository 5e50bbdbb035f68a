// Package imdsv2 reads the instance's tags and identity from the EC2
// instance metadata service, IMDSv2 only: the SDK client is built so that it
// never falls back to tokenless IMDSv1 requests.
package imdsv2

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/ec2rolecreds"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/serialpass/serialpass/agent"
)

// api holds exactly the SDK client methods this package uses.
type api interface {
	GetMetadata(ctx context.Context, in *imds.GetMetadataInput, optFns ...func(*imds.Options)) (*imds.GetMetadataOutput, error)
	GetInstanceIdentityDocument(ctx context.Context, in *imds.GetInstanceIdentityDocumentInput, optFns ...func(*imds.Options)) (*imds.GetInstanceIdentityDocumentOutput, error)
}

// Source reads instance metadata. It implements agent.TagSource and
// agent.IdentitySource.
type Source struct {
	api api
}

var (
	_ agent.TagSource      = (*Source)(nil)
	_ agent.IdentitySource = (*Source)(nil)
)

// New builds a Source over the SDK's IMDS client, configured by ClientOptions.
// The endpoint comes from cfg's sources (AWS_EC2_METADATA_SERVICE_ENDPOINT,
// ec2_metadata_service_endpoint in the shared config) as the SDK resolves it.
func New(cfg aws.Config) *Source {
	return newSource(imds.NewFromConfig(cfg, ClientOptions, observeAttempts))
}

// newSource builds a Source over any implementation of api (tests pass a fake).
func newSource(c api) *Source { return &Source{api: c} }

// ClientOptions configures an SDK IMDS client for serialpass: never fall
// back to IMDSv1, and fail fast when the service is not there. A refused
// connection costs at most 3 attempts with backoff capped at 250 ms; the
// caller (agent.WaitIdentity) does the long waiting at boot. The retryer
// has no retry quota: the SDK's default quota, once drained by a long
// outage, would turn every later error into "retry quota exceeded".
func ClientOptions(o *imds.Options) {
	o.EnableFallback = aws.FalseTernary
	o.DisableDefaultMaxBackoff = true // its 1 s cap would replace ours
	o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
		so.MaxAttempts = 3
		so.MaxBackoff = 250 * time.Millisecond
		so.RateLimiter = ratelimit.None
	})
}

// RoleCredentials is a config.LoadDefaultConfig option that makes the
// default credential chain's instance-role step IMDSv2-only as well (by
// default the SDK builds that client with IMDSv1 fallback enabled). Its
// endpoint comes from AWS_EC2_METADATA_SERVICE_ENDPOINT or the default.
func RoleCredentials() config.LoadOptionsFunc {
	return config.WithEC2RoleCredentialOptions(func(o *ec2rolecreds.Options) {
		o.Client = imds.New(imds.Options{}, ClientOptions)
	})
}

// Identity returns the instance id, region and type from the instance
// identity document (one call).
func (s *Source) Identity(ctx context.Context) (agent.Identity, error) {
	ctx, seen := withAttempts(ctx)
	out, err := s.api.GetInstanceIdentityDocument(ctx, &imds.GetInstanceIdentityDocumentInput{})
	if err != nil {
		return agent.Identity{}, fmt.Errorf("reading instance identity document: %w", classify(ctx, err, seen))
	}
	doc := out.InstanceIdentityDocument
	id := agent.Identity{InstanceID: doc.InstanceID, Region: doc.Region, InstanceType: doc.InstanceType}
	if id.InstanceID == "" || id.Region == "" {
		return agent.Identity{}, fmt.Errorf("instance identity document lacks instanceId or region (got %q, %q)", id.InstanceID, id.Region)
	}
	return id, nil
}

const tagsPath = "tags/instance"

// Tags lists the instance's tag keys and reads the values of those that
// start with prefix, skipping the agent's own report keys. Keys are
// returned whole, prefix included.
func (s *Source) Tags(ctx context.Context, prefix string) (map[string]string, error) {
	list, found, err := s.get(ctx, tagsPath)
	if err != nil {
		return nil, fmt.Errorf("listing instance tags: %w", err)
	}
	if !found {
		return nil, fmt.Errorf("listing instance tags: %s answered 404: %w", tagsPath, agent.ErrTagsDisabled)
	}
	keys := parseListing(list)
	if len(keys) == 0 {
		return nil, fmt.Errorf("listing instance tags: empty listing: %w", agent.ErrTagsDisabled)
	}
	tags := map[string]string{}
	for _, key := range keys {
		name, ok := strings.CutPrefix(key, prefix)
		if !ok || agent.IsReportKey(name) {
			continue
		}
		v, found, err := s.get(ctx, tagsPath+"/"+key)
		if err != nil {
			return nil, fmt.Errorf("reading instance tag %q: %w", key, err)
		}
		if !found {
			continue // deleted between the listing and now
		}
		tags[key] = v
	}
	return tags, nil
}

// parseListing splits an IMDS listing into its entries.
func parseListing(s string) []string {
	var out []string
	for line := range strings.SplitSeq(s, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	return out
}

// maxValue bounds what we read from one metadata path (tag values are at
// most 256 characters; listings of 50 keys of 128).
const maxValue = 64 << 10

// get reads one metadata path. found is false on a 404.
func (s *Source) get(ctx context.Context, path string) (string, bool, error) {
	ctx, seen := withAttempts(ctx)
	out, err := s.api.GetMetadata(ctx, &imds.GetMetadataInput{Path: path})
	if err != nil {
		if statusCode(err) == http.StatusNotFound {
			return "", false, nil
		}
		return "", false, classify(ctx, err, seen)
	}
	defer out.Content.Close()
	b, err := io.ReadAll(io.LimitReader(out.Content, maxValue+1))
	if err != nil {
		return "", false, fmt.Errorf("reading %s: %w", path, classify(ctx, err, nil))
	}
	if len(b) > maxValue {
		return "", false, fmt.Errorf("reading %s: answer longer than %d bytes", path, maxValue)
	}
	return string(b), true, nil
}

func statusCode(err error) int {
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// classify marks errors that mean "the metadata service is not (yet)
// usable" with agent.ErrUnreachable: no connection, timeouts, DNS, and
// answers 5xx or 429 after the SDK's own retries. The SDK's token errors
// do not unwrap to their cause, so the last HTTP attempt seen by
// observeAttempts decides too. A caller's own cancellation is returned as is.
func classify(ctx context.Context, err error, seen *attempts) error {
	if errors.Is(err, context.Canceled) || errors.Is(ctx.Err(), context.Canceled) {
		return err
	}
	code := statusCode(err)
	last, lastErr := seen.last()
	if code == 0 && lastErr == nil {
		code = last
	}
	if code >= 500 || code == http.StatusTooManyRequests {
		return fmt.Errorf("%w: metadata service answered HTTP %d: %w", agent.ErrUnreachable, code, err)
	}
	if unreachable(err) || (lastErr != nil && unreachable(lastErr)) {
		return fmt.Errorf("%w: %w", agent.ErrUnreachable, err)
	}
	return err
}

func unreachable(err error) bool {
	var (
		send *smithyhttp.RequestSendError
		op   *net.OpError
		dns  *net.DNSError
		ne   net.Error
	)
	switch {
	case errors.As(err, &send), errors.As(err, &op), errors.As(err, &dns):
		return true
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return true
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, io.ErrUnexpectedEOF):
		return true
	case errors.As(err, &ne) && ne.Timeout():
		return true
	}
	return false
}
