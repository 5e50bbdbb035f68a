package agent_test

import (
	"testing"
	"time"

	"github.com/serialpass/serialpass/agent"
)

// The 10-minute rule counts from the later of the local record of the last
// rotation and the store's last change of the secret (DescribeSecret's
// LastChangedDate), whatever asks for the rotation.

func TestEveryTriggerWaitsForTheStoresLastChange(t *testing.T) {
	tests := []struct {
		name    string
		after   time.Duration // since the secret was created, when another writer changes it
		trigger func(r *rotRig)
	}{
		{"rotate tag changed", 24 * time.Hour, func(r *rotRig) { r.tags.tags["serialpass:rotate"] = "nonce-1" }},
		{"serialpass rotate", 24 * time.Hour, func(r *rotRig) { r.state.s.RotateRequested = r.clock.now }},
		{"login session ended", 24 * time.Hour, func(r *rotRig) {
			r.sessions.ss = []agent.Session{{User: rigUser, Line: "ttyS0", Login: rigStart.Add(2 * time.Hour), Logout: rigStart.Add(3 * time.Hour)}}
		}},
		{"max age reached", 31 * 24 * time.Hour, func(r *rotRig) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRotRig(t, nil)
			r.mustPass() // creates the secret at rigStart
			r.advance(tt.after)
			// An instance sharing the secret stores a new AWSCURRENT: this
			// instance's own record still says rigStart.
			putCurrent(t, r, rigSecret, `{"username":"`+rigUser+`","password":"Other-Writer-Passw0rd"}`)
			changed := r.clock.now
			tt.trigger(r)

			r.advance(time.Minute)
			if res := r.mustPass(); res.Rotated {
				t.Fatalf("rotated 1 minute after the store's last change: %+v", res)
			}
			r.checkInvariant() // the other writer's version is live here
			r.clock.now = changed.Add(agent.MinRotationInterval - time.Second)
			if res := r.mustPass(); res.Rotated {
				t.Fatalf("rotated 1 s before 10 minutes after the store's last change: %+v", res)
			}
			r.clock.now = changed.Add(agent.MinRotationInterval)
			if res := r.mustPass(); !res.Rotated {
				t.Fatalf("pass 10 minutes after the store's last change = %+v, want the deferred rotation", res)
			}
			r.checkInvariant()
		})
	}
}

func TestLostStateWaitsForTheStoresLastChange(t *testing.T) {
	tests := []struct {
		name string
		tags map[string]string
	}{
		{"rotate tag set", map[string]string{"serialpass:mode": "rotate", "serialpass:rotate": "nonce-1"}},
		{"request recorded after the loss", map[string]string{"serialpass:mode": "rotate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRotRig(t, tt.tags)
			r.mustPass() // creates the secret at rigStart
			r.advance(2 * time.Minute)
			r.state.s = agent.State{} // the state file is lost
			if tt.tags["serialpass:rotate"] == "" {
				r.state.s.RotateRequested = r.clock.now
			}
			var rotations []time.Time
			for range 20 { // a pass a minute
				if res := r.mustPass(); res.Rotated {
					rotations = append(rotations, r.clock.now)
				}
				r.advance(time.Minute)
			}
			if len(rotations) != 1 {
				t.Fatalf("rotations at %v, want exactly one", rotations)
			}
			if since := rotations[0].Sub(rigStart); since < agent.MinRotationInterval {
				t.Errorf("rotated %v after the secret was created, want at least %v", since, agent.MinRotationInterval)
			}
			r.checkInvariant()
		})
	}
}

// TestOwnRotationCountsFromTheLocalRecord: while AWSCURRENT is this
// instance's own last rotation, a store clock running ahead does not push
// the next rotation back.
func TestOwnRotationCountsFromTheLocalRecord(t *testing.T) {
	r := newRotRig(t, nil)
	r.store.SetClock(func() time.Time { return r.clock.now.Add(3 * time.Minute) })
	r.mustPass() // creates the secret at rigStart, stamped rigStart+3m
	r.advance(agent.MinRotationInterval)
	r.state.s.RotateRequested = r.clock.now
	if res := r.mustPass(); !res.Rotated {
		t.Fatalf("pass 10 minutes after this instance created the secret = %+v, want the rotation", res)
	}
	r.checkInvariant()
}
