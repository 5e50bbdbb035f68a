package imdsv2

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
)

// The SDK's IMDS client marks a failed token request as terminal with an
// error type that does not unwrap, so "connection refused" or "HTTP 500"
// while getting a token cannot be found with errors.As. observeAttempts
// wraps the client's HTTP client and notes the outcome of every attempt in
// the *attempts that withAttempts put into the call's context.

// The SDK's own fail-fast timeouts for IMDS, which it applies only to an
// HTTP client it can still recognise (not to our wrapper).
const (
	dialTimeout   = 250 * time.Millisecond
	headerTimeout = 500 * time.Millisecond
)

type attemptsKey struct{}

// attempts is the outcome of the last HTTP attempt of one call.
type attempts struct {
	mu     sync.Mutex
	status int
	err    error
}

func withAttempts(ctx context.Context) (context.Context, *attempts) {
	a := &attempts{}
	return context.WithValue(ctx, attemptsKey{}, a), a
}

// last returns the status or transport error of the last attempt; a nil
// receiver (no observer) reports nothing.
func (a *attempts) last() (int, error) {
	if a == nil {
		return 0, nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.status, a.err
}

func (a *attempts) note(resp *http.Response, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.status, a.err = 0, err
	if err == nil {
		a.status = resp.StatusCode
	}
}

// observer is an imds.HTTPClient that notes each attempt.
type observer struct{ next imds.HTTPClient }

func (o observer) Do(req *http.Request) (*http.Response, error) {
	resp, err := o.next.Do(req)
	if a, ok := req.Context().Value(attemptsKey{}).(*attempts); ok {
		a.note(resp, err)
	}
	return resp, err
}

// observeAttempts is an imds.Options function installing the observer,
// keeping the SDK's short dial and response-header timeouts.
func observeAttempts(o *imds.Options) {
	hc := o.HTTPClient
	if hc == nil {
		hc = awshttp.NewBuildableClient()
	}
	if bc, ok := hc.(*awshttp.BuildableClient); ok {
		hc = bc.
			WithDialerOptions(func(d *net.Dialer) { d.Timeout = dialTimeout }).
			WithTransportOptions(func(tr *http.Transport) { tr.ResponseHeaderTimeout = headerTimeout })
	}
	o.HTTPClient = observer{next: hc}
}
