// Package imdsemu is a small, faithful IMDSv2 emulator for tests, the demo
// and benchmarks.
//
// It behaves like the EC2 instance metadata service with HttpTokens=required:
// PUT /latest/api/token with X-aws-ec2-metadata-token-ttl-seconds (1..21600)
// returns a token that expires after its TTL; a GET without a valid token is
// answered 401; unknown paths 404; directories list their children one per
// line (subdirectories with a trailing slash). It serves instance-id,
// instance-type, placement/region and availability-zone, the instance
// identity document, iam/info and role credentials that never expire (so the
// SDK's default credential chain works), and the instance tags under
// meta-data/tags/instance, which tests may change while it runs.
//
// Faults: Refuse / Resume / RefuseFor stop and restart listening on the same
// port, SetDelay delays every answer, FailNext and FailFor answer 500,
// SetTokenStatus makes the token PUT fail. Counts records requests by
// "METHOD /path"; V1Answers counts tokenless GETs answered 2xx, which only
// happens when Options.AllowV1 emulates HttpTokens=optional.
//
// With Options.Control the same listener also serves a small control API
// under /_emu/ (see control.go); the standalone binary in cmd/imdsemu turns
// it on.
package imdsemu

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Header names as IMDS spells them.
const (
	HeaderTTL   = "X-aws-ec2-metadata-token-ttl-seconds"
	HeaderToken = "X-aws-ec2-metadata-token"
	maxTTL      = 21600
)

// Options configure a Server. Zero values take the defaults noted.
type Options struct {
	Addr             string // listen address, default "127.0.0.1:0"
	InstanceID       string // default "i-0123456789abcdef0"
	Region           string // default "us-east-1"
	AvailabilityZone string // default Region+"a"
	InstanceType     string // default "t3.micro"
	AccountID        string // default "123456789012"
	ImageID          string // default "ami-0123456789abcdef0"
	PrivateIP        string // default "172.31.0.10"
	Role             string // instance profile role, default "serialpass-instance"
	NoRole           bool   // serve no role at all (iam/ answers 404)
	// Tags are the initial instance tags; TagsDisabled starts with tags
	// not exposed in metadata (tags/instance answers 404).
	Tags         map[string]string
	TagsDisabled bool
	// AllowV1 answers tokenless GETs (HttpTokens=optional). Off by
	// default: like an IMDSv2-only instance, a tokenless GET gets 401.
	AllowV1 bool
	// Control serves the /_emu/ control API on the same listener.
	Control bool
	// Now is the clock for token expiry, default time.Now.
	Now func() time.Time
}

// Server is a running (or stopped) emulator. All methods are safe for
// concurrent use.
type Server struct {
	opts    Options
	started time.Time

	mu        sync.Mutex
	addr      string
	http      *http.Server
	serving   sync.WaitGroup
	closed    bool
	refusing  bool
	resume    *time.Timer
	bgErr     error
	tokens    map[string]time.Time
	tags      map[string]string
	tagsOn    bool
	counts    map[string]int
	v1        int
	delay     time.Duration
	failN     int
	failUntil time.Time
	tokenCode int
}

// New returns a Server that is not listening yet; call Start.
func New(opts Options) *Server {
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&opts.Addr, "127.0.0.1:0")
	def(&opts.InstanceID, "i-0123456789abcdef0")
	def(&opts.Region, "us-east-1")
	def(&opts.AvailabilityZone, opts.Region+"a")
	def(&opts.InstanceType, "t3.micro")
	def(&opts.AccountID, "123456789012")
	def(&opts.ImageID, "ami-0123456789abcdef0")
	def(&opts.PrivateIP, "172.31.0.10")
	def(&opts.Role, "serialpass-instance")
	if opts.Now == nil {
		opts.Now = time.Now
	}
	tags := maps.Clone(opts.Tags)
	if tags == nil {
		tags = map[string]string{}
	}
	return &Server{
		opts:    opts,
		started: opts.Now().UTC().Truncate(time.Second),
		tokens:  map[string]time.Time{},
		tags:    tags,
		tagsOn:  !opts.TagsDisabled,
		counts:  map[string]int{},
	}
}

// Start listens on Options.Addr and serves in the background.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("imdsemu: server closed")
	}
	if s.http != nil {
		return errors.New("imdsemu: already started")
	}
	ln, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", s.opts.Addr, err)
	}
	s.addr = ln.Addr().String()
	s.serveLocked(ln)
	return nil
}

func (s *Server) serveLocked(ln net.Listener) {
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.http = srv
	s.serving.Add(1)
	go func() {
		defer s.serving.Done()
		_ = srv.Serve(ln) // returns when the server is closed
	}()
}

// URL is the base URL, e.g. http://127.0.0.1:41234, as
// AWS_EC2_METADATA_SERVICE_ENDPOINT wants it. Valid after Start.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return "http://" + s.addr
}

// Addr is the host:port the server listens on (or will listen on again
// after Refuse). Valid after Start.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Close stops serving for good and waits for the serving goroutines.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	if s.resume != nil {
		s.resume.Stop()
	}
	srv := s.http
	s.http = nil
	s.mu.Unlock()
	var err error
	if srv != nil {
		err = srv.Close()
	}
	s.serving.Wait()
	return err
}

// ServeHTTP answers one request like IMDS does.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_emu/") {
		if s.opts.Control {
			s.control(w, r)
		} else {
			notFound(w)
		}
		return
	}
	delay, fail := s.admit(r.Method + " " + r.URL.Path)
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if fail {
		reply(w, http.StatusInternalServerError, errorPage(http.StatusInternalServerError))
		return
	}
	if r.URL.Path == "/latest/api/token" {
		s.token(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		reply(w, http.StatusMethodNotAllowed, errorPage(http.StatusMethodNotAllowed))
		return
	}
	tok := r.Header.Get(HeaderToken)
	if !s.authorized(tok) {
		reply(w, http.StatusUnauthorized, errorPage(http.StatusUnauthorized))
		return
	}
	body, ok := s.lookup(r.URL.Path)
	if !ok {
		notFound(w)
		return
	}
	if tok == "" {
		s.mu.Lock()
		s.v1++
		s.mu.Unlock()
	}
	reply(w, http.StatusOK, body)
}

// admit counts the request and draws the configured faults for it.
func (s *Server) admit(key string) (time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts[key]++
	fail := false
	if s.failN > 0 {
		s.failN--
		fail = true
	}
	if s.opts.Now().Before(s.failUntil) {
		fail = true
	}
	return s.delay, fail
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPut {
		reply(w, http.StatusMethodNotAllowed, errorPage(http.StatusMethodNotAllowed))
		return
	}
	s.mu.Lock()
	code := s.tokenCode
	s.mu.Unlock()
	if code != 0 {
		reply(w, code, errorPage(code))
		return
	}
	// IMDS refuses token requests that went through a proxy.
	if r.Header.Get("X-Forwarded-For") != "" {
		reply(w, http.StatusForbidden, errorPage(http.StatusForbidden))
		return
	}
	ttl, err := strconv.Atoi(r.Header.Get(HeaderTTL))
	if err != nil || ttl < 1 || ttl > maxTTL {
		reply(w, http.StatusBadRequest, errorPage(http.StatusBadRequest))
		return
	}
	var b [40]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	tok := "AQAEA" + base64.RawURLEncoding.EncodeToString(b[:])
	now := s.opts.Now()
	s.mu.Lock()
	for t, exp := range s.tokens {
		if !now.Before(exp) {
			delete(s.tokens, t)
		}
	}
	s.tokens[tok] = now.Add(time.Duration(ttl) * time.Second)
	s.mu.Unlock()
	w.Header().Set(HeaderTTL, strconv.Itoa(ttl))
	reply(w, http.StatusOK, tok)
}

// authorized reports whether a GET with this token header may be served.
func (s *Server) authorized(tok string) bool {
	if tok == "" {
		return s.opts.AllowV1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.tokens[tok]
	return ok && s.opts.Now().Before(exp)
}

func reply(w http.ResponseWriter, code int, body string) {
	h := w.Header()
	if strings.HasPrefix(body, "<?xml") {
		h.Set("Content-Type", "text/html")
	} else {
		h.Set("Content-Type", "text/plain")
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Server", "EC2ws")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(body)) // the client went away; nothing to do
}

func notFound(w http.ResponseWriter) {
	reply(w, http.StatusNotFound, errorPage(http.StatusNotFound))
}

// errorPage is the XHTML page IMDS sends with error statuses.
func errorPage(code int) string {
	title := fmt.Sprintf("%d - %s", code, http.StatusText(code))
	return `<?xml version="1.0" encoding="iso-8859-1"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"
	"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">
 <head>
  <title>` + title + `</title>
 </head>
 <body>
  <h1>` + title + `</h1>
 </body>
</html>
`
}

// Counts returns the requests seen since Start or the last Reset, keyed by
// "METHOD /path" (for example "PUT /latest/api/token"). Control requests
// are not counted.
func (s *Server) Counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.counts)
}

// V1Answers is how many tokenless GETs were answered 200 since Start or the
// last Reset. It stays 0 unless Options.AllowV1 is set.
func (s *Server) V1Answers() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.v1
}

// Reset clears Counts and V1Answers (not tags, tokens or faults).
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.counts)
	s.v1 = 0
}

// Err returns the last error of a background action (a RefuseFor that could
// not listen again), or nil.
func (s *Server) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bgErr
}
