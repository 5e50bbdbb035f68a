//go:build bench

package bench_test

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/serialpass/serialpass/agent/daemon"
)

// TestFleetModel runs the product's retry policy for throttled reports
// (daemon.ThrottleDelay) in a discrete-event model of one token bucket
// and N agents, for fleet sizes and buckets the emulator run does not
// cover. Each agent makes one call; a throttled call is retried after
// ThrottleDelay(k) until it succeeds. First calls spread over the first
// second, as a fleet's boots and its reads of the secret spread them.
func TestFleetModel(t *testing.T) {
	buckets := []struct {
		name        string
		burst, rate float64
	}{
		{"100 burst / 20 per s (the run's assumption)", 100, 20},
		{"200 burst / 5 per s (EC2's published mutating-action bucket)", 200, 5},
		{"50 burst / 50 per s (Secrets Manager writes)", 50, 50},
	}
	sizes := []int{100, 300, 1000, 3000, 10000}
	const seeds = 11
	var s strings.Builder
	fmt.Fprintf(&s, "The product's ThrottleDelay in a model of one bucket (median of %d seeds; ratio = time until the last agent succeeds / the optimum (N − burst) / rate; retries = throttled calls per agent).\n\n", seeds)
	s.WriteString("| bucket | N | optimum (s) | all done (s) | ratio | retries per agent |\n|---|---|---|---|---|---|\n")
	for _, b := range buckets {
		for _, n := range sizes {
			var done, retries []float64
			for seed := range uint64(seeds) {
				d, r := modelFleet(n, b.burst, b.rate, seed)
				done, retries = append(done, d), append(retries, r)
			}
			slices.Sort(done)
			slices.Sort(retries)
			opt := max(0, (float64(n)-b.burst)/b.rate)
			ratio := "—"
			if opt > 0 {
				ratio = fmt.Sprintf("%.2f", done[seeds/2]/opt)
			}
			fmt.Fprintf(&s, "| %s | %d | %.1f | %.1f | %s | %.2f |\n", b.name, n, opt, done[seeds/2], ratio, retries[seeds/2])
		}
	}
	section(t, "3-fleet-model", s.String())
}

// modelFleet returns when the last of n agents got its call through a
// bucket of burst and rate, and the throttled calls per agent.
func modelFleet(n int, burst, rate float64, seed uint64) (doneAt, retries float64) {
	r := rand.New(rand.NewPCG(seed, 7))
	q := &events{}
	for i := range n {
		heap.Push(q, event{at: r.Float64(), agent: i})
	}
	tries := make([]int, n)
	tokens, last, throttled := burst, 0.0, 0
	for q.Len() > 0 {
		e := heap.Pop(q).(event)
		tokens = min(burst, tokens+(e.at-last)*rate)
		last = e.at
		if tokens >= 1 {
			tokens--
			doneAt = e.at
			continue
		}
		throttled++
		tries[e.agent]++
		d := daemon.ThrottleDelay(tries[e.agent], 15*time.Minute, r.Float64())
		heap.Push(q, event{at: e.at + d.Seconds(), agent: e.agent})
	}
	return doneAt, float64(throttled) / float64(n)
}

type event struct {
	at    float64
	agent int
}

// events is a min-heap of events by time.
type events []event

func (q events) Len() int           { return len(q) }
func (q events) Less(i, j int) bool { return q[i].at < q[j].at }
func (q events) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *events) Push(x any)        { *q = append(*q, x.(event)) }
func (q *events) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}
