// Package awswire reads and writes the parts of AWS API requests and
// responses that the test and benchmark proxies in front of emulators need:
// which action a request calls, and the error AWS answers when it
// throttles.
package awswire

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Action names the request's action: the part of X-Amz-Target after the
// dot for JSON protocols (json is true), else the Action field of EC2's
// Query protocol, from the URL or a form body. A body it reads is put back.
func Action(r *http.Request) (action string, json bool, err error) {
	if target := r.Header.Get("X-Amz-Target"); target != "" {
		return Bare(target), true, nil
	}
	if a := r.URL.Query().Get("Action"); a != "" {
		return a, false, nil
	}
	if r.Body == nil || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		return "", false, nil
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return "", false, fmt.Errorf("reading request body: %w", err)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return "", false, fmt.Errorf("parsing form body: %w", err)
	}
	return form.Get("Action"), false, nil
}

// Bare strips a service prefix: "secretsmanager.GetSecretValue" becomes
// "GetSecretValue".
func Bare(action string) string { return action[strings.LastIndex(action, ".")+1:] }

// WriteThrottle answers as the AWS API does when it throttles: a JSON
// ThrottlingException (HTTP 400) for JSON protocols, a Query-protocol XML
// RequestLimitExceeded (HTTP 503) for EC2. by (one word) names who
// throttled, in the request id and the message; the message names the
// action too.
func WriteThrottle(w http.ResponseWriter, json bool, by, action string) {
	reqID := fmt.Sprintf("%s-%d", by, time.Now().UnixNano())
	w.Header().Set("X-Amzn-Requestid", reqID)
	if json {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Header().Set("X-Amzn-Errortype", "ThrottlingException")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"__type":"ThrottlingException","message":"Rate exceeded (%s, %s)"}`, by, action)
		return
	}
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(http.StatusServiceUnavailable)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>
<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded (%s, %s).</Message></Error></Errors><RequestID>%s</RequestID></Response>`, by, action, reqID)
}
