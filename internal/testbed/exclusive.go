package testbed

import (
	"os"
	"path/filepath"
	"syscall"
)

// Exclusive keeps the tests that load the whole machine (building Debian
// roots, installing packages in them, booting VMs under TCG) and the tests
// that hold the agent to a wall-clock limit of the issues apart: it waits
// for a lock every test process of this machine shares, and holds it until
// t ends. go test runs packages in parallel; without it, a fault test's
// "ready within 5 s" would measure a machine busy with mmdebstrap.
func Exclusive(t TB) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "serialpass-test-exclusive.lock"), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		t.Fatalf("opening the test lock: %v", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatalf("taking the test lock: %v", err)
	}
	t.Cleanup(func() { f.Close() }) // closing releases the lock
}
