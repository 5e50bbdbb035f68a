package awswire

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestAction(t *testing.T) {
	for _, tc := range []struct {
		name, target, query, contentType, body string
		action                                 string
		json                                   bool
	}{
		{name: "json target", target: "secretsmanager.GetSecretValue", action: "GetSecretValue", json: true},
		{name: "query string", query: "Action=CreateTags&Version=2016-11-15", action: "CreateTags"},
		{name: "form body", contentType: "application/x-www-form-urlencoded; charset=utf-8",
			body: "Action=CreateTags&ResourceId.1=i-1", action: "CreateTags"},
		{name: "other body", contentType: "application/json", body: `{"Action":"x"}`},
		{name: "nothing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/?"+tc.query, strings.NewReader(tc.body))
			if tc.target != "" {
				r.Header.Set("X-Amz-Target", tc.target)
			}
			if tc.contentType != "" {
				r.Header.Set("Content-Type", tc.contentType)
			}
			action, json, err := Action(r)
			if err != nil || action != tc.action || json != tc.json {
				t.Fatalf("Action = %q, %v, %v; want %q, %v, nil", action, json, err, tc.action, tc.json)
			}
			if rest, _ := io.ReadAll(r.Body); string(rest) != tc.body {
				t.Errorf("body after Action = %q, want it restored: %q", rest, tc.body)
			}
		})
	}
}

func TestWriteThrottle(t *testing.T) {
	for _, tc := range []struct {
		name   string
		json   bool
		status int
		want   string
	}{
		{"json protocol", true, http.StatusBadRequest, `"__type":"ThrottlingException"`},
		{"query protocol", false, http.StatusServiceUnavailable, `<Code>RequestLimitExceeded</Code>`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			WriteThrottle(w, tc.json, "test", "CreateTags")
			if w.Code != tc.status || !strings.Contains(w.Body.String(), tc.want) {
				t.Errorf("got %d %s; want %d with %s", w.Code, w.Body, tc.status, tc.want)
			}
			if id := w.Header().Get("X-Amzn-Requestid"); !strings.HasPrefix(id, "test-") || strings.ContainsAny(id, " ,") {
				t.Errorf("request id %q: want test-<n>, one word", id)
			}
		})
	}
}
