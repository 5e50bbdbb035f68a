package imdsemu

import (
	"errors"
	"fmt"
	"net"
	"time"
)

// Refuse stops listening and drops open connections, keeping the port, so
// clients get "connection refused" until Resume. Refusing twice is a no-op.
func (s *Server) Refuse() error {
	s.mu.Lock()
	if s.closed || s.http == nil {
		s.mu.Unlock()
		return errors.New("imdsemu: not serving")
	}
	if s.resume != nil {
		s.resume.Stop()
		s.resume = nil
	}
	srv := s.http
	s.http = nil
	s.refusing = true
	s.mu.Unlock()
	err := srv.Close()
	s.serving.Wait()
	if err != nil {
		return fmt.Errorf("stopping listener: %w", err)
	}
	return nil
}

// Resume listens again on the same address after Refuse. Resuming a
// server that is serving is a no-op.
func (s *Server) Resume() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.resume != nil {
		s.resume.Stop()
		s.resume = nil
	}
	return s.resumeLocked()
}

func (s *Server) resumeLocked() error {
	if s.closed {
		return errors.New("imdsemu: server closed")
	}
	if !s.refusing {
		return nil
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("listening again on %s: %w", s.addr, err)
	}
	s.refusing = false
	s.serveLocked(ln)
	return nil
}

// RefuseFor refuses connections for d, then listens again on the same
// port by itself. If listening again fails, Err reports why.
func (s *Server) RefuseFor(d time.Duration) error {
	if err := s.Refuse(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.resume != t {
			return // superseded by Resume, Refuse or Close
		}
		s.resume = nil
		if err := s.resumeLocked(); err != nil {
			s.bgErr = err
		}
	})
	s.resume = t
	return nil
}

// SetDelay delays every answer by d (0 turns it off). A delay longer than
// the SDK's 500 ms response-header timeout makes its calls time out.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// FailNext answers the next n requests (token PUTs included) with 500.
func (s *Server) FailNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failN = n
}

// FailFor answers every request with 500 for d from now.
func (s *Server) FailFor(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failUntil = s.opts.Now().Add(d)
}

// SetTokenStatus makes PUT /latest/api/token answer code (for example 403
// or 405) instead of issuing a token; 0 restores normal behaviour. Use it
// with Options.AllowV1 to see whether a client falls back to IMDSv1.
func (s *Server) SetTokenStatus(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenCode = code
}

// ClearFaults removes delay, 500s and token failures (not Refuse).
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay, s.failN, s.failUntil, s.tokenCode = 0, 0, time.Time{}, 0
}
