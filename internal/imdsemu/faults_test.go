package imdsemu

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestFaults(t *testing.T) {
	c := &clock{now: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	tests := []struct {
		name  string
		fault func(*Server)
		want  []int // statuses of successive token PUTs
	}{
		{"none", func(*Server) {}, []int{200, 200}},
		{"next two fail", func(s *Server) { s.FailNext(2) }, []int{500, 500, 200}},
		{"fail for a minute", func(s *Server) { s.FailFor(time.Minute) }, []int{500, 500}},
		{"token status 403", func(s *Server) { s.SetTokenStatus(403) }, []int{403, 403}},
		{"cleared", func(s *Server) { s.FailFor(time.Minute); s.SetTokenStatus(405); s.ClearFaults() }, []int{200}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t, Options{Now: c.Now})
			tt.fault(s)
			for i, want := range tt.want {
				code, _, _ := do(t, "PUT", s.URL()+"/latest/api/token", nil, HeaderTTL, "60")
				if code != want {
					t.Errorf("request %d = %d, want %d", i, code, want)
				}
			}
		})
	}
	t.Run("fail for ends", func(t *testing.T) {
		s := start(t, Options{Now: c.Now})
		s.FailFor(time.Minute)
		c.advance(61 * time.Second)
		if code, _, _ := do(t, "PUT", s.URL()+"/latest/api/token", nil, HeaderTTL, "60"); code != 200 {
			t.Errorf("after the fault window: %d", code)
		}
	})
}

func TestDelay(t *testing.T) {
	s := start(t, Options{})
	s.SetDelay(200 * time.Millisecond)
	begin := time.Now()
	token(t, s)
	delayed := time.Since(begin)
	if delayed < 200*time.Millisecond {
		t.Errorf("answered after %v, want at least 200ms", delayed)
	}
	s.SetDelay(0)
	begin = time.Now()
	token(t, s)
	// Relative, not absolute: a loaded machine slows both answers alike.
	if d := time.Since(begin); d >= delayed {
		t.Errorf("answered after %v without delay, no sooner than the %v with it", d, delayed)
	}
}

func TestConcurrentUse(t *testing.T) {
	s := start(t, Options{Tags: map[string]string{"k": "v"}})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			tok := token(t, s)
			for range 20 {
				if code, _ := get(t, s, tok, "/latest/meta-data/tags/instance"); code != 200 {
					t.Errorf("listing = %d", code)
				}
				s.SetTag("k", strings.Repeat("x", i))
				_ = s.Counts()
			}
		})
	}
	wg.Wait()
	if n := s.Counts()["GET /latest/meta-data/tags/instance"]; n != 160 {
		t.Errorf("counted %d listings, want 160", n)
	}
}

func TestControlAPI(t *testing.T) {
	s := start(t, Options{Control: true})
	u := s.URL()
	steps := []struct {
		name, method, path, body string
		want                     int
		check                    func(t *testing.T)
	}{
		{"set tags", "PUT", "/_emu/tags", `{"serialpass:secret":"x","Name":"n"}`, 204, func(t *testing.T) {
			if got := s.Tags(); got["serialpass:secret"] != "x" || len(got) != 2 {
				t.Errorf("tags = %v", got)
			}
		}},
		{"bad tags", "PUT", "/_emu/tags", `["x"]`, 400, nil},
		{"read tags", "GET", "/_emu/tags", "", 200, nil},
		{"disable tags", "DELETE", "/_emu/tags", "", 204, func(t *testing.T) {
			if code, _ := get(t, s, token(t, s), "/latest/meta-data/tags/instance"); code != 404 {
				t.Errorf("listing after DELETE = %d, want 404", code)
			}
		}},
		{"counts", "GET", "/_emu/counts", "", 200, nil},
		{"reset", "POST", "/_emu/reset", "", 204, func(t *testing.T) {
			if n := len(s.Counts()); n != 0 {
				t.Errorf("%d counts after reset", n)
			}
		}},
		{"fail n", "POST", "/_emu/fail?n=1", "", 204, func(t *testing.T) {
			if code, _, _ := do(t, "PUT", u+"/latest/api/token", nil, HeaderTTL, "60"); code != 500 {
				t.Errorf("token after fail?n=1 = %d", code)
			}
		}},
		{"fail bad n", "POST", "/_emu/fail?n=x", "", 400, nil},
		{"delay", "POST", "/_emu/delay?d=1ms", "", 204, nil},
		{"delay missing", "POST", "/_emu/delay", "", 400, nil},
		{"token status", "POST", "/_emu/token-status?code=403", "", 204, func(t *testing.T) {
			if code, _, _ := do(t, "PUT", u+"/latest/api/token", nil, HeaderTTL, "60"); code != 403 {
				t.Errorf("token = %d, want 403", code)
			}
		}},
		{"token status bad", "POST", "/_emu/token-status?code=200", "", 400, nil},
		{"clear", "POST", "/_emu/clear", "", 204, func(t *testing.T) { token(t, s) }},
		{"refuse without duration", "POST", "/_emu/refuse", "", 400, nil},
		{"unknown", "GET", "/_emu/nope", "", 404, nil},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			code, body, _ := do(t, st.method, u+st.path, strings.NewReader(st.body))
			if code != st.want {
				t.Fatalf("%s %s = %d %s, want %d", st.method, st.path, code, body, st.want)
			}
			if st.check != nil {
				st.check(t)
			}
		})
	}
	t.Run("counts are JSON and control calls are not counted", func(t *testing.T) {
		s.Reset()
		token(t, s)
		_, body, _ := do(t, "GET", u+"/_emu/counts", nil)
		var got struct {
			Counts    map[string]int `json:"counts"`
			V1Answers int            `json:"v1Answers"`
		}
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatalf("%v in %s", err, body)
		}
		if len(got.Counts) != 1 || got.Counts["PUT /latest/api/token"] != 1 {
			t.Errorf("counts = %v", got.Counts)
		}
	})
	t.Run("refuse for a while", func(t *testing.T) {
		if code, body, _ := do(t, "POST", u+"/_emu/refuse?for=300ms", nil); code != 204 {
			t.Fatalf("refuse = %d %s", code, body)
		}
		waitState(t, u, false)
		waitState(t, u, true)
	})
	t.Run("control off answers 404", func(t *testing.T) {
		off := start(t, Options{})
		if code, _, _ := do(t, "GET", off.URL()+"/_emu/counts", nil); code != 404 {
			t.Errorf("= %d, want 404", code)
		}
	})
}

// waitState waits until the server at u accepts connections (up) or refuses them.
func waitState(t *testing.T, u string, up bool) {
	t.Helper()
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(3 * time.Second)
	for {
		resp, err := client.Get(u + "/latest/meta-data/")
		if err == nil {
			resp.Body.Close()
		}
		if (err == nil) == up {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("server never became up=%v (last error %v)", up, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
