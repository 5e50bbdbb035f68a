package testbed

import "context"

// TB is the part of testing.TB the test bed uses. *testing.T and
// *testing.B satisfy it; so does the demo's plain-program stand-in, which
// lets `make demo` drive the very emulators the tests use.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
	TempDir() string
	Context() context.Context
}
