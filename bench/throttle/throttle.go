// Package throttle is a token-bucket throttle in front of an AWS API
// emulator (moto), for the fleet benchmark. Each API action draws from a
// bucket of its class; an empty bucket is answered as AWS answers: a JSON
// ThrottlingException (HTTP 400) for JSON protocols such as Secrets
// Manager, a Query-protocol XML RequestLimitExceeded (HTTP 503) for EC2.
// Everything else is forwarded. It counts allowed and throttled requests
// per action.
package throttle

import (
	"flag"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"

	"github.com/serialpass/serialpass/internal/awswire"
)

// Limits are the bucket sizes and refill rates (per second) per class of
// action. Zero size means unlimited.
type Limits struct {
	SMReadBurst, SMReadRate   float64 // GetSecretValue, DescribeSecret, ...
	SMWriteBurst, SMWriteRate float64 // PutSecretValue, CreateSecret, UpdateSecretVersionStage, ...
	TagsBurst, TagsRate       float64 // ec2:CreateTags
}

// DefaultLimits: Secrets Manager's published quotas (10,000 reads and 50
// writes per second per account and region, taken as one second of
// burst); CreateTags 100 burst / 20 per second is an assumption, AWS does
// not publish that bucket.
func DefaultLimits() Limits {
	return Limits{
		SMReadBurst: 10000, SMReadRate: 10000,
		SMWriteBurst: 50, SMWriteRate: 50,
		TagsBurst: 100, TagsRate: 20,
	}
}

// RegisterFlags binds the limits to flags on fs, with l's values as defaults.
func (l *Limits) RegisterFlags(fs *flag.FlagSet) {
	fs.Float64Var(&l.SMReadBurst, "sm-read-burst", l.SMReadBurst, "Secrets Manager read bucket size")
	fs.Float64Var(&l.SMReadRate, "sm-read-rate", l.SMReadRate, "Secrets Manager read refill per second")
	fs.Float64Var(&l.SMWriteBurst, "sm-write-burst", l.SMWriteBurst, "Secrets Manager write bucket size")
	fs.Float64Var(&l.SMWriteRate, "sm-write-rate", l.SMWriteRate, "Secrets Manager write refill per second")
	fs.Float64Var(&l.TagsBurst, "createtags-burst", l.TagsBurst, "ec2:CreateTags bucket size (an assumption)")
	fs.Float64Var(&l.TagsRate, "createtags-rate", l.TagsRate, "ec2:CreateTags refill per second (an assumption)")
}

// Bucket is a token bucket; the zero Size means unlimited.
type Bucket struct {
	Size, Rate float64

	mu     sync.Mutex
	tokens float64
	last   time.Time
}

// NewBucket returns a full bucket.
func NewBucket(size, rate float64) *Bucket { return &Bucket{Size: size, Rate: rate, tokens: size} }

// Take takes one token at now and reports whether there was one.
func (b *Bucket) Take(now time.Time) bool {
	if b.Size <= 0 {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.last.IsZero() {
		b.tokens = min(b.Size, b.tokens+now.Sub(b.last).Seconds()*b.Rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// Count is what happened to one action's requests.
type Count struct {
	Allowed, Throttled int
	// Class is the bucket the action draws from ("" for none).
	Class string
}

// Bucket classes.
const (
	ClassSMRead  = "secretsmanager-read"
	ClassSMWrite = "secretsmanager-write"
	ClassTags    = "ec2-createtags"
)

// Bucket returns the size and refill rate of class's bucket (zero for an
// unknown class: unlimited).
func (l Limits) Bucket(class string) (size, rate float64) {
	switch class {
	case ClassSMRead:
		return l.SMReadBurst, l.SMReadRate
	case ClassSMWrite:
		return l.SMWriteBurst, l.SMWriteRate
	case ClassTags:
		return l.TagsBurst, l.TagsRate
	}
	return 0, 0
}

// Proxy is the throttle; it is an http.Handler.
type Proxy struct {
	next        http.Handler
	read, write *Bucket
	tags        *Bucket
	mu          sync.Mutex
	counts      map[string]*Count
}

// New returns a throttle forwarding to target (http://host:port).
func New(target string, l Limits) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("parsing target %q: %w", target, err)
	}
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(u); r.Out.Host = r.In.Host }}
	rp.Transport = &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 64}
	return &Proxy{
		next:   rp,
		read:   NewBucket(l.SMReadBurst, l.SMReadRate),
		write:  NewBucket(l.SMWriteBurst, l.SMWriteRate),
		tags:   NewBucket(l.TagsBurst, l.TagsRate),
		counts: map[string]*Count{},
	}, nil
}

// smReads are the Secrets Manager actions in the read quota.
var smReads = map[string]bool{"GetSecretValue": true, "DescribeSecret": true, "ListSecrets": true,
	"ListSecretVersionIds": true, "GetRandomPassword": true, "BatchGetSecretValue": true, "GetResourcePolicy": true}

// class names the bucket an action draws from.
func class(action string, jsonProto bool) string {
	switch {
	case jsonProto && smReads[action]:
		return ClassSMRead
	case jsonProto:
		return ClassSMWrite
	case action == "CreateTags":
		return ClassTags
	}
	return ""
}

func (p *Proxy) bucket(class string) *Bucket {
	switch class {
	case ClassSMRead:
		return p.read
	case ClassSMWrite:
		return p.write
	case ClassTags:
		return p.tags
	}
	return nil
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	action, jsonProto, err := awswire.Action(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	now := time.Now()
	ok := true
	cl := class(action, jsonProto)
	if b := p.bucket(cl); b != nil {
		ok = b.Take(now)
	}
	p.mu.Lock()
	c := p.counts[action]
	if c == nil {
		c = &Count{Class: cl}
		p.counts[action] = c
	}
	if ok {
		c.Allowed++
	} else {
		c.Throttled++
	}
	p.mu.Unlock()
	if !ok {
		awswire.WriteThrottle(w, jsonProto, "throttle", action)
		return
	}
	p.next.ServeHTTP(w, r)
}

// Counts returns a copy of the per-action counts.
func (p *Proxy) Counts() map[string]Count {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]Count, len(p.counts))
	for k, v := range p.counts {
		out[k] = *v
	}
	return out
}
