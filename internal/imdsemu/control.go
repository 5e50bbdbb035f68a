package imdsemu

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// The control API, served under /_emu/ on the emulator's own listener when
// Options.Control is set. Control requests are neither counted nor
// subject to faults (but a refused listener refuses them too).
//
//	GET    /_emu/counts              {"counts":{"GET /latest/...":N},"v1Answers":N}
//	POST   /_emu/reset               clear counts
//	GET    /_emu/tags                the current tags as a JSON object
//	PUT    /_emu/tags                replace all tags with a JSON object; enables tags
//	DELETE /_emu/tags                disable tags in metadata (listing answers 404)
//	POST   /_emu/refuse?for=120s     refuse connections for a duration (required)
//	POST   /_emu/fail?n=3            answer 500 to the next n requests
//	POST   /_emu/fail?for=30s        answer 500 for a duration
//	POST   /_emu/delay?d=200ms       delay every answer (0 turns it off)
//	POST   /_emu/token-status?code=403  token PUT answers code (0 restores)
//	POST   /_emu/clear               remove delay, 500s and token failures
//
// Errors answer 400 with a one-line text body; success answers 204 or JSON.
func (s *Server) control(w http.ResponseWriter, r *http.Request) {
	route := r.Method + " " + r.URL.Path
	q := r.URL.Query()
	switch route {
	case "GET /_emu/counts":
		writeJSON(w, struct {
			Counts    map[string]int `json:"counts"`
			V1Answers int            `json:"v1Answers"`
		}{s.Counts(), s.V1Answers()})
	case "POST /_emu/reset":
		s.Reset()
		w.WriteHeader(http.StatusNoContent)
	case "GET /_emu/tags":
		writeJSON(w, s.Tags())
	case "PUT /_emu/tags":
		var tags map[string]string
		if err := json.NewDecoder(r.Body).Decode(&tags); err != nil {
			badRequest(w, fmt.Errorf("decoding tags: %w", err))
			return
		}
		s.SetTags(tags)
		w.WriteHeader(http.StatusNoContent)
	case "DELETE /_emu/tags":
		s.DisableTags()
		w.WriteHeader(http.StatusNoContent)
	case "POST /_emu/refuse":
		d, err := time.ParseDuration(q.Get("for"))
		if err != nil || d <= 0 {
			badRequest(w, fmt.Errorf("refuse needs for=DURATION (got %q)", q.Get("for")))
			return
		}
		// Answer first: refusing closes this very connection.
		w.WriteHeader(http.StatusNoContent)
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		go func() { _ = s.RefuseFor(d) }() // only fails if already closed
	case "POST /_emu/fail":
		if v := q.Get("n"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				badRequest(w, fmt.Errorf("bad n=%q", v))
				return
			}
			s.FailNext(n)
		}
		if v := q.Get("for"); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				badRequest(w, fmt.Errorf("bad for=%q: %w", v, err))
				return
			}
			s.FailFor(d)
		}
		w.WriteHeader(http.StatusNoContent)
	case "POST /_emu/delay":
		d, err := time.ParseDuration(q.Get("d"))
		if err != nil || d < 0 {
			badRequest(w, fmt.Errorf("delay needs d=DURATION (got %q)", q.Get("d")))
			return
		}
		s.SetDelay(d)
		w.WriteHeader(http.StatusNoContent)
	case "POST /_emu/token-status":
		code, err := strconv.Atoi(q.Get("code"))
		if err != nil || (code != 0 && (code < 400 || code > 599)) {
			badRequest(w, fmt.Errorf("token-status needs code=0 or 4xx/5xx (got %q)", q.Get("code")))
			return
		}
		s.SetTokenStatus(code)
		w.WriteHeader(http.StatusNoContent)
	case "POST /_emu/clear":
		s.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	default:
		http.Error(w, "unknown control route "+route, http.StatusNotFound)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v) // maps and structs of strings and ints
}

func badRequest(w http.ResponseWriter, err error) {
	http.Error(w, err.Error(), http.StatusBadRequest)
}
