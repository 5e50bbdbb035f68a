package imdsemu

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func start(t *testing.T, opts Options) *Server {
	t.Helper()
	s := New(opts)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// do sends one request; headers come in name, value pairs.
func do(t *testing.T, method, url string, body io.Reader, headers ...string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func token(t *testing.T, s *Server) string {
	t.Helper()
	code, body, _ := do(t, "PUT", s.URL()+"/latest/api/token", nil, HeaderTTL, "60")
	if code != 200 {
		t.Fatalf("token PUT = %d %s", code, body)
	}
	return body
}

func get(t *testing.T, s *Server, tok, path string) (int, string) {
	t.Helper()
	var h []string
	if tok != "" {
		h = []string{HeaderToken, tok}
	}
	code, body, _ := do(t, "GET", s.URL()+path, nil, h...)
	return code, body
}

func TestToken(t *testing.T) {
	s := start(t, Options{})
	tests := []struct {
		name    string
		method  string
		headers []string
		want    int
	}{
		{"ttl 1", "PUT", []string{HeaderTTL, "1"}, 200},
		{"ttl 21600", "PUT", []string{HeaderTTL, "21600"}, 200},
		{"missing ttl", "PUT", nil, 400},
		{"ttl 0", "PUT", []string{HeaderTTL, "0"}, 400},
		{"ttl 21601", "PUT", []string{HeaderTTL, "21601"}, 400},
		{"ttl not a number", "PUT", []string{HeaderTTL, "10s"}, 400},
		{"through a proxy", "PUT", []string{HeaderTTL, "60", "X-Forwarded-For", "10.0.0.1"}, 403},
		{"GET on the token path", "GET", []string{HeaderTTL, "60"}, 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body, h := do(t, tt.method, s.URL()+"/latest/api/token", nil, tt.headers...)
			if code != tt.want {
				t.Fatalf("status = %d, want %d (%s)", code, tt.want, body)
			}
			if code == 200 && (len(body) < 40 || h.Get(HeaderTTL) != tt.headers[1]) {
				t.Errorf("token %q, ttl header %q", body, h.Get(HeaderTTL))
			}
		})
	}
}

func TestAuthorization(t *testing.T) {
	c := &clock{now: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	s := start(t, Options{Now: c.Now})
	v1 := start(t, Options{AllowV1: true})
	tok := token(t, s)
	tests := []struct {
		name   string
		srv    *Server
		tok    string
		before func()
		want   int
	}{
		{"valid token", s, tok, nil, 200},
		{"no token, IMDSv2 only", s, "", nil, 401},
		{"unknown token", s, "AQAEAnotissued", nil, 401},
		{"expired token", s, tok, func() { c.advance(61 * time.Second) }, 401},
		{"no token, v1 allowed", v1, "", nil, 200},
		{"bad token, v1 allowed", v1, "AQAEAnotissued", nil, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.before != nil {
				tt.before()
			}
			if code, body := get(t, tt.srv, tt.tok, "/latest/meta-data/instance-id"); code != tt.want {
				t.Errorf("status = %d, want %d (%s)", code, tt.want, body)
			}
		})
	}
	if s.V1Answers() != 0 || v1.V1Answers() != 1 {
		t.Errorf("V1Answers = %d and %d, want 0 and 1", s.V1Answers(), v1.V1Answers())
	}
}

func TestPaths(t *testing.T) {
	s := start(t, Options{InstanceID: "i-0abc", Region: "eu-north-1", InstanceType: "c7i.large", Role: "r1",
		Tags: map[string]string{"Name": "n", "serialpass:secret": "sec", "a+b=c@d,e.f:g": "odd"}})
	tok := token(t, s)
	tests := []struct {
		path, want string
		code       int
	}{
		{"/latest/meta-data/instance-id", "i-0abc", 200},
		{"/latest/meta-data/instance-type", "c7i.large", 200},
		{"/latest/meta-data/placement/region", "eu-north-1", 200},
		{"/latest/meta-data/placement/availability-zone", "eu-north-1a", 200},
		{"/latest/meta-data/placement/", "availability-zone\nregion", 200},
		{"/latest/meta-data/iam/", "info\nsecurity-credentials/", 200},
		{"/latest/meta-data/iam/security-credentials/", "r1", 200},
		{"/latest/meta-data/iam/security-credentials", "r1", 200},
		{"/latest/meta-data/tags/instance", "Name\na+b=c@d,e.f:g\nserialpass:secret", 200},
		{"/latest/meta-data/tags/instance/serialpass:secret", "sec", 200},
		{"/latest/meta-data/tags/instance/a+b=c@d,e.f:g", "odd", 200},
		{"/latest/meta-data/tags/instance/missing", "", 404},
		{"/latest/meta-data/instance-id/", "", 404},
		{"/latest/meta-data/nope", "", 404},
		{"/latest/user-data", "", 404},
		{"/2009-04-04/meta-data/", "", 404},
		{"/latest/dynamic/instance-identity/", "document", 200},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			code, body := get(t, s, tok, tt.path)
			if code != tt.code || (tt.code == 200 && body != tt.want) {
				t.Errorf("= %d %q, want %d %q", code, body, tt.code, tt.want)
			}
		})
	}
	t.Run("meta-data listing", func(t *testing.T) {
		_, body := get(t, s, tok, "/latest/meta-data/")
		for _, e := range []string{"instance-id", "instance-type", "iam/", "placement/", "tags/"} {
			if !strings.Contains("\n"+body+"\n", "\n"+e+"\n") {
				t.Errorf("listing lacks %q:\n%s", e, body)
			}
		}
	})
	t.Run("identity document", func(t *testing.T) {
		_, body := get(t, s, tok, "/latest/dynamic/instance-identity/document")
		var doc map[string]any
		if err := json.Unmarshal([]byte(body), &doc); err != nil {
			t.Fatalf("%v in %s", err, body)
		}
		if doc["instanceId"] != "i-0abc" || doc["region"] != "eu-north-1" || doc["instanceType"] != "c7i.large" ||
			doc["version"] != "2017-09-30" || doc["kernelId"] != nil {
			t.Errorf("document = %s", body)
		}
	})
	t.Run("role credentials", func(t *testing.T) {
		_, body := get(t, s, tok, "/latest/meta-data/iam/security-credentials/r1")
		var c struct{ Code, AccessKeyId, SecretAccessKey, Token, Expiration string }
		if err := json.Unmarshal([]byte(body), &c); err != nil {
			t.Fatalf("%v in %s", err, body)
		}
		exp, err := time.Parse(time.RFC3339, c.Expiration)
		if c.Code != "Success" || c.AccessKeyId == "" || c.Token == "" || err != nil || !exp.After(time.Now().Add(time.Hour)) {
			t.Errorf("credentials = %s", body)
		}
	})
	t.Run("no role", func(t *testing.T) {
		nr := start(t, Options{NoRole: true})
		if code, _ := get(t, nr, token(t, nr), "/latest/meta-data/iam/info"); code != 404 {
			t.Errorf("iam/info without a role = %d, want 404", code)
		}
	})
}

func TestTagChanges(t *testing.T) {
	s := start(t, Options{Tags: map[string]string{"k1": "v1"}})
	tok := token(t, s)
	steps := []struct {
		name        string
		change      func()
		listCode    int
		list        string
		path, value string
	}{
		{"initial", func() {}, 200, "k1", "k1", "v1"},
		{"set", func() { s.SetTag("k2", "v2") }, 200, "k1\nk2", "k2", "v2"},
		{"delete", func() { s.DeleteTag("k1") }, 200, "k2", "k1", ""},
		{"replace", func() { s.SetTags(map[string]string{"k3": "v3"}) }, 200, "k3", "k3", "v3"},
		{"disable", s.DisableTags, 404, "", "k3", ""},
		{"enable", s.EnableTags, 200, "k3", "k3", "v3"},
		{"empty", func() { s.SetTags(nil) }, 200, "", "k3", ""},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.change()
			code, body := get(t, s, tok, "/latest/meta-data/tags/instance")
			if code != st.listCode || (code == 200 && body != st.list) {
				t.Errorf("listing = %d %q, want %d %q", code, body, st.listCode, st.list)
			}
			code, body = get(t, s, tok, "/latest/meta-data/tags/instance/"+st.path)
			if st.value == "" && code != 404 || st.value != "" && (code != 200 || body != st.value) {
				t.Errorf("%s = %d %q, want %q", st.path, code, body, st.value)
			}
		})
	}
}

func TestCounts(t *testing.T) {
	s := start(t, Options{})
	tok := token(t, s)
	get(t, s, tok, "/latest/meta-data/instance-id")
	get(t, s, tok, "/latest/meta-data/instance-id")
	get(t, s, "", "/latest/meta-data/nope")
	want := map[string]int{"PUT /latest/api/token": 1, "GET /latest/meta-data/instance-id": 2, "GET /latest/meta-data/nope": 1}
	if got := s.Counts(); len(got) != len(want) || got["GET /latest/meta-data/instance-id"] != 2 || got["PUT /latest/api/token"] != 1 {
		t.Errorf("Counts = %v, want %v", got, want)
	}
	s.Reset()
	if got := s.Counts(); len(got) != 0 {
		t.Errorf("after Reset: %v", got)
	}
}

func TestRefuseAndResumeOnSamePort(t *testing.T) {
	s := start(t, Options{})
	addr := s.Addr()
	if err := s.Refuse(); err != nil {
		t.Fatal(err)
	}
	_, err := http.Get(s.URL() + "/latest/meta-data/")
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("while refusing: %v, want connection refused", err)
	}
	if err := s.Resume(); err != nil {
		t.Fatal(err)
	}
	if s.Addr() != addr {
		t.Errorf("address moved from %s to %s", addr, s.Addr())
	}
	if code, _ := get(t, s, token(t, s), "/latest/meta-data/instance-id"); code != 200 {
		t.Errorf("after Resume: %d", code)
	}
	if err := s.RefuseFor(150 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(s.URL() + "/latest/meta-data/"); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("during RefuseFor: %v, want connection refused", err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		resp, err := http.Get(s.URL() + "/latest/meta-data/")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still refusing after RefuseFor: %v (bg err %v)", err, s.Err())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
