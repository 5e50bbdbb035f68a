package testbed

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"
)

func TestProxyRaw(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		w.Write([]byte("ok"))
	}))
	t.Cleanup(backend.Close)
	p := NewProxy(t, backend.URL)

	jsonReq := func(target string) *http.Response {
		req, _ := http.NewRequest("POST", p.URL(), strings.NewReader(`{"SecretId":"x"}`))
		req.Header.Set("X-Amz-Target", target)
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	formReq := func(action string) (*http.Response, string) {
		form := url.Values{"Action": {action}, "Version": {"2016-11-15"}}
		resp, err := http.Post(p.URL(), "application/x-www-form-urlencoded; charset=utf-8", strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}

	t.Run("counts and restores bodies", func(t *testing.T) {
		p.Reset()
		bodies = nil
		jsonReq("secretsmanager.GetSecretValue")
		jsonReq("secretsmanager.GetSecretValue")
		formReq("CreateTags")
		if got := p.Count("GetSecretValue"); got != 2 {
			t.Errorf("Count(GetSecretValue) = %d, want 2", got)
		}
		if got := p.Count("secretsmanager.GetSecretValue"); got != 2 {
			t.Errorf("Count with prefix = %d, want 2", got)
		}
		if got := p.Counts(); len(got) != 2 || got["CreateTags"] != 1 {
			t.Errorf("Counts() = %v", got)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(bodies) != 3 || !strings.Contains(bodies[2], "Action=CreateTags") || bodies[0] != `{"SecretId":"x"}` {
			t.Errorf("backend saw bodies %q", bodies)
		}
	})

	t.Run("throttle n", func(t *testing.T) {
		p.Reset()
		p.Throttle("PutSecretValue", 2)
		for i, want := range []int{400, 400, 200} {
			if got := jsonReq("secretsmanager.PutSecretValue").StatusCode; got != want {
				t.Errorf("call %d: status %d, want %d", i, got, want)
			}
		}
		if got := jsonReq("secretsmanager.GetSecretValue").StatusCode; got != 200 {
			t.Errorf("other action: status %d, want 200", got)
		}
	})

	t.Run("fail until", func(t *testing.T) {
		p.Reset()
		p.FailUntil("CreateTags", time.Now().Add(300*time.Millisecond))
		resp, body := formReq("CreateTags")
		if resp.StatusCode != 503 || !strings.Contains(body, "<Code>RequestLimitExceeded</Code>") {
			t.Errorf("during fault: %d %s", resp.StatusCode, body)
		}
		time.Sleep(350 * time.Millisecond)
		if resp, body := formReq("CreateTags"); resp.StatusCode != 200 {
			t.Errorf("after fault: %d %s", resp.StatusCode, body)
		}
	})

	t.Run("hooks", func(t *testing.T) {
		p.Reset()
		var got []string
		p.OnRequest(func(a string) Verdict { got = append(got, "req "+a); return Forward })
		p.OnResponse(func(a string, status int) { got = append(got, "resp "+a) })
		t.Cleanup(func() { p.OnRequest(nil); p.OnResponse(nil) })
		jsonReq("secretsmanager.DescribeSecret")
		if want := "req DescribeSecret,resp DescribeSecret"; strings.Join(got, ",") != want {
			t.Errorf("hooks saw %q, want %q", got, want)
		}
	})

	t.Run("a dropped request never reaches the emulator", func(t *testing.T) {
		p.Reset()
		mu.Lock()
		bodies = nil
		mu.Unlock()
		var responses atomic.Int32
		p.OnRequest(func(a string) Verdict {
			if a == "PutSecretValue" {
				return Drop
			}
			return Forward
		})
		p.OnResponse(func(string, int) { responses.Add(1) })
		t.Cleanup(func() { p.OnRequest(nil); p.OnResponse(nil) })
		req, _ := http.NewRequest("POST", p.URL(), strings.NewReader(`{"SecretId":"x"}`))
		req.Header.Set("X-Amz-Target", "secretsmanager.PutSecretValue")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			t.Fatalf("a dropped request was answered %d", resp.StatusCode)
		}
		if got := p.Count("PutSecretValue"); got != 1 {
			t.Errorf("Count(PutSecretValue) = %d, want 1: a dropped request still arrived", got)
		}
		mu.Lock()
		n := len(bodies)
		mu.Unlock()
		if n != 0 || responses.Load() != 0 {
			t.Errorf("backend saw %d requests, response hook ran %d times, want 0 and 0", n, responses.Load())
		}
		if got := jsonReq("secretsmanager.GetSecretValue").StatusCode; got != 200 {
			t.Errorf("next request: status %d, want 200", got)
		}
	})
}

// TestProxySDK checks that the SDK reads the proxy's faults as AWS's own.
func TestProxySDK(t *testing.T) {
	m := StartMoto(t)
	p := NewProxy(t, m.Endpoint)
	cfg := MotoConfigAt(p.URL())
	ctx := context.Background()
	noRetry := func(o *secretsmanager.Options) { o.RetryMaxAttempts = 1 }

	m.CreateSecret(t, "tb/proxied", "v")
	sm := secretsmanager.NewFromConfig(cfg, noRetry)
	in := &secretsmanager.GetSecretValueInput{SecretId: aws.String("tb/proxied"), VersionStage: aws.String("AWSCURRENT")}
	if _, err := sm.GetSecretValue(ctx, in); err != nil {
		t.Fatalf("through the proxy: %v", err)
	}
	p.Throttle("GetSecretValue", 1)
	_, err := sm.GetSecretValue(ctx, in)
	if code := apiCode(err); code != "ThrottlingException" {
		t.Errorf("throttled GetSecretValue: code %q (%v)", code, err)
	}
	if got := p.Count("GetSecretValue"); got != 2 {
		t.Errorf("Count(GetSecretValue) = %d, want 2", got)
	}

	e := ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.RetryMaxAttempts = 1 })
	p.Throttle("CreateTags", 1)
	_, err = e.CreateTags(ctx, &ec2.CreateTagsInput{
		Resources: []string{"i-0123456789abcdef0"},
		Tags:      []ec2types.Tag{{Key: aws.String("k"), Value: aws.String("v")}},
	})
	if code := apiCode(err); code != "RequestLimitExceeded" {
		t.Errorf("throttled CreateTags: code %q (%v)", code, err)
	}
	if got := p.Count("CreateTags"); got != 1 {
		t.Errorf("Count(CreateTags) = %d, want 1", got)
	}
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}
