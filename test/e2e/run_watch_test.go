package e2e_test

import (
	"testing"
	"time"

	"github.com/serialpass/serialpass/internal/testbed"
)

// callEvent is one call through the proxy: its arrival ("call X") or
// moto's answer ("answer X", seen before the answer goes back).
type callEvent struct {
	name string
	at   time.Time
}

// callWatch follows the calls through a world's proxy, in order, so a
// test can wait for the pass it means instead of sleeping.
type callWatch struct{ events chan callEvent }

// watchCalls installs the proxy's hooks for the rest of the test.
func watchCalls(t *testing.T, p *testbed.Proxy) *callWatch {
	c := &callWatch{events: make(chan callEvent, 4096)}
	send := func(name string) {
		select {
		case c.events <- callEvent{name, time.Now()}:
		default: // full: await then misses events and times out, loudly
		}
	}
	p.OnRequest(func(action string) testbed.Verdict { send("call " + action); return testbed.Forward })
	p.OnResponse(func(action string, _ int) { send("answer " + action) })
	t.Cleanup(func() { p.OnRequest(nil); p.OnResponse(nil) })
	return c
}

// await waits at most d for the first event named name that happened
// after since, dropping the events before it, and returns its time.
func (c *callWatch) await(t *testing.T, name string, since time.Time, d time.Duration) time.Time {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case e := <-c.events:
			if e.name == name && e.at.After(since) {
				return e.at
			}
		case <-timeout:
			t.Fatalf("no %s within %s", name, d)
		}
	}
}
