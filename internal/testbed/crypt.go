package testbed

import (
	"errors"
	"os/exec"
	"strings"
)

// cryptCheckScript compares crypt(3) of the first stdin line, salted with
// the second, to the second; libcrypt handles yescrypt ($y$), SHA-512 ($6$)
// and the rest.
const cryptCheckScript = `chomp(my $p=<STDIN>); chomp(my $h=<STDIN>); exit(crypt($p,$h) eq $h ? 0 : 1)`

// VerifyPassword reports whether password matches the crypt(3) hash, using
// perl's crypt with both on stdin, never on argv. It fails the test if perl
// is missing or errs.
func VerifyPassword(t TB, hash, password string) bool {
	t.Helper()
	perl, err := exec.LookPath("perl")
	if err != nil {
		t.Fatalf("perl is needed to verify password hashes with crypt(3): install it (apt-get install perl-base): %v", err)
	}
	if strings.ContainsAny(password+hash, "\n") {
		t.Fatalf("VerifyPassword: password or hash contains a newline")
	}
	cmd := exec.CommandContext(t.Context(), perl, "-e", cryptCheckScript)
	cmd.Stdin = strings.NewReader(password + "\n" + hash + "\n")
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LANG=C"}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return true
	case errors.As(err, &ee) && ee.ExitCode() == 1 && len(out) == 0:
		return false
	default:
		t.Fatalf("perl crypt check: %v: %s", err, out)
		return false
	}
}
