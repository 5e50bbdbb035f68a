package leak_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// sampler reads /proc/PID/cmdline and /proc/PID/environ of every process,
// round after round, keeping every distinct text it saw, until stopped.
type sampler struct {
	every time.Duration
	stop  chan struct{}
	done  chan struct{}

	mu     sync.Mutex
	texts  map[string]string // text -> "PID cmdline|environ", first seen
	progs  map[string]int    // base name of argv[0] -> rounds seen in
	rounds int
}

func startSampler(every time.Duration) *sampler {
	s := &sampler{every: every, stop: make(chan struct{}), done: make(chan struct{}),
		texts: map[string]string{}, progs: map[string]int{}}
	go s.loop()
	return s
}

func (s *sampler) loop() {
	defer close(s.done)
	self := strconv.Itoa(os.Getpid())
	for {
		select {
		case <-s.stop:
			return
		default:
		}
		ents, err := os.ReadDir("/proc")
		if err == nil {
			for _, e := range ents {
				pid := e.Name()
				if pid == self || pid[0] < '0' || pid[0] > '9' {
					continue
				}
				s.read(pid)
			}
		}
		s.mu.Lock()
		s.rounds++
		s.mu.Unlock()
		time.Sleep(s.every)
	}
}

func (s *sampler) read(pid string) {
	for _, f := range []string{"cmdline", "environ"} {
		b, err := os.ReadFile(filepath.Join("/proc", pid, f))
		if err != nil || len(b) == 0 { // gone, or a kernel thread
			continue
		}
		s.mu.Lock()
		if _, ok := s.texts[string(b)]; !ok {
			s.texts[string(b)] = pid + " " + f
		}
		if f == "cmdline" {
			argv0, _, _ := bytes.Cut(b, []byte{0})
			s.progs[filepath.Base(string(argv0))]++
		}
		s.mu.Unlock()
	}
}

// Stop ends sampling and waits for the round in progress.
func (s *sampler) Stop() {
	close(s.stop)
	<-s.done
}

// seen reports in how many reads a program's cmdline was found.
func (s *sampler) seen(prog string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.progs[prog]
}

// find returns where needle was seen ("PID cmdline" or "PID environ"), or "".
func (s *sampler) find(needle string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for text, where := range s.texts {
		if bytes.Contains([]byte(text), []byte(needle)) {
			return where
		}
	}
	return ""
}

func (s *sampler) stats() (rounds, texts int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rounds, len(s.texts)
}
