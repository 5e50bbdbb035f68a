package testbed

import (
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"

	"github.com/serialpass/serialpass/internal/awswire"
)

// Proxy is a reverse proxy in front of an AWS API emulator that counts
// requests per API action and can answer throttling errors instead of the
// emulator. Actions are bare operation names ("GetSecretValue",
// "CreateTags"): the part of X-Amz-Target after the dot for JSON
// protocols, the Action form field for EC2's Query protocol. Methods that
// take an action also accept the "secretsmanager.GetSecretValue" form.
type Proxy struct {
	url string

	mu         sync.Mutex
	counts     map[string]int
	throttle   map[string]int
	failUntil  map[string]time.Time
	onRequest  func(action string) Verdict
	onResponse func(action string, status int)
}

// Verdict is what a request hook decides about the request it saw.
type Verdict int

const (
	// Forward lets the request go on: faulted or sent to the emulator.
	Forward Verdict = iota
	// Drop closes the client's connection without an answer: the
	// emulator never sees the request, so the call cannot take effect.
	Drop
)

// NewProxy starts a proxy to target (a base URL such as Moto.Endpoint) on
// a free loopback port; it stops when the test ends.
func NewProxy(t TB, target string) *Proxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatalf("parsing proxy target %q: %v", target, err)
	}
	p := &Proxy{
		counts:    map[string]int{},
		throttle:  map[string]int{},
		failUntil: map[string]time.Time{},
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(u); r.Out.Host = r.In.Host },
		ModifyResponse: func(resp *http.Response) error {
			if f := p.responseHook(); f != nil {
				f(proxyAction(resp.Request.Header), resp.StatusCode)
			}
			return nil
		},
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("starting proxy: %v", err)
	}
	srv := &http.Server{Handler: p.handler(rp), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	p.url = "http://" + l.Addr().String()
	return p
}

// actionHeader carries the action from the handler to ModifyResponse.
const actionHeader = "X-Serialpass-Testbed-Action"

func (p *Proxy) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		action, jsonProto, err := awswire.Action(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fault, hook := p.arrive(action)
		if hook != nil && hook(action) == Drop {
			drop(w)
			return
		}
		if fault {
			awswire.WriteThrottle(w, jsonProto, "testbed", action)
			return
		}
		r.Header.Set(actionHeader, action)
		next.ServeHTTP(w, r)
	})
}

// drop closes the connection unanswered. Aborting the handler does the
// same where the connection cannot be taken over; either way nothing is
// forwarded.
func drop(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

func proxyAction(h http.Header) string { return h.Get(actionHeader) }

// arrive counts a request and decides whether to fault it.
func (p *Proxy) arrive(action string) (fault bool, hook func(string) Verdict) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.counts[action]++
	switch {
	case p.throttle[action] > 0:
		p.throttle[action]--
		fault = true
	case time.Now().Before(p.failUntil[action]):
		fault = true
	}
	return fault, p.onRequest
}

func (p *Proxy) responseHook() func(string, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.onResponse
}

// URL is the proxy's base URL, to use as an endpoint.
func (p *Proxy) URL() string { return p.url }

// Count returns how many requests for action arrived, faulted ones
// included.
func (p *Proxy) Count(action string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts[awswire.Bare(action)]
}

// Counts returns a copy of every action's count.
func (p *Proxy) Counts() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int, len(p.counts))
	for k, v := range p.counts {
		out[k] = v
	}
	return out
}

// Reset zeroes the counts and cancels every fault; hooks stay.
func (p *Proxy) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.counts)
	clear(p.throttle)
	clear(p.failUntil)
}

// Throttle answers the next n requests for action with a throttling error.
// The SDK retries throttling errors (3 attempts by default): each retry is
// a request.
func (p *Proxy) Throttle(action string, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.throttle[awswire.Bare(action)] = n
}

// FailUntil answers every request for action with a throttling error until
// the given time.
func (p *Proxy) FailUntil(action string, until time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failUntil[awswire.Bare(action)] = until
}

// OnRequest installs f, called with the action of every request as it
// arrives (and is counted), before it is faulted or forwarded; the
// request waits for f. When f answers Drop the connection is closed and
// the request goes nowhere: a hook that kills the client "before call X"
// drops X, so X never lands. Pass nil to remove it.
func (p *Proxy) OnRequest(f func(action string) Verdict) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.onRequest = f
}

// OnResponse installs f, called once the emulator has answered a request
// and before the answer goes back to the client: the call has taken
// effect, but the client does not know yet, and the answer waits for f.
// Pass nil to remove it.
func (p *Proxy) OnResponse(f func(action string, status int)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.onResponse = f
}
