package testbed

import (
	"errors"
	"os/exec"
	"testing"
)

// TestEarlyExit: a server that exits before it is ready fails the wait
// with Wait's error wrapped, or errExitedZero when Wait returned nil.
func TestEarlyExit(t *testing.T) {
	failed := exec.Command("false").Run()
	var exit *exec.ExitError
	if !errors.As(failed, &exit) {
		t.Fatalf("running false: %v", failed)
	}
	waits := []struct {
		name string
		wait func(exited <-chan error) error
	}{
		{"moto", (&Moto{Endpoint: "http://127.0.0.1:1"}).waitReady},
		{"AEMM", func(exited <-chan error) error { return waitAEMM("http://127.0.0.1:1", exited) }},
	}
	for _, w := range waits {
		for _, tt := range []struct {
			name    string
			waitErr error
			want    error
		}{
			{"nonzero status", failed, exit},
			{"status 0", nil, errExitedZero},
		} {
			t.Run(w.name+" "+tt.name, func(t *testing.T) {
				exited := make(chan error, 1)
				exited <- tt.waitErr
				err := w.wait(exited)
				if !errors.Is(err, tt.want) {
					t.Errorf("wait = %v, want it to wrap %v", err, tt.want)
				}
			})
		}
	}
}
