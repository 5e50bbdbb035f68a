package console

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/serialpass/serialpass/agent"
	"github.com/serialpass/serialpass/agent/osexec"
)

// argvSpy runs for real and keeps every argv, to prove the password is
// never on one.
type argvSpy struct {
	inner agent.Runner
	argv  []string
}

func (s *argvSpy) Run(ctx context.Context, stdin io.Reader, argv ...string) ([]byte, error) {
	s.argv = append(s.argv, strings.Join(argv, " "))
	return s.inner.Run(ctx, stdin, argv...)
}

// Hashes of "correct horse" made with perl's crypt (libcrypt).
const (
	yescryptHash = "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$zwtVrjrUCmXcyLTs6oxLTQlzifSUkF8RHJ./tK5KU79"
	sha512Hash   = "$6$saltsalt$hRM5XZ86KXEw9UOmjigeVqFgULtFB2sgpC9lXQDfMib3Zgw7mEiUvBJI2EplzfAqxL5Vvwp2scFtv/uamSo5z0"
)

// checkVerifyErr fails unless err is nil (want ""), a mismatch (want
// "wrong": ErrWrongPassword and not ErrCannotVerify) or a failure to check
// (want "cannot": ErrCannotVerify and never ErrWrongPassword), and unless
// it keeps pw out of its text.
func checkVerifyErr(t *testing.T, err error, want, pw string) {
	t.Helper()
	wrong, cannot := errors.Is(err, ErrWrongPassword), errors.Is(err, ErrCannotVerify)
	switch want {
	case "":
		if err != nil {
			t.Fatalf("err = %v, want nil", err)
		}
	case "wrong":
		if !wrong || cannot {
			t.Fatalf("err = %v, want ErrWrongPassword only", err)
		}
	case "cannot":
		if !cannot || wrong {
			t.Fatalf("err = %v, want ErrCannotVerify, not ErrWrongPassword", err)
		}
		if !strings.HasPrefix(err.Error(), `cannot verify the password of "ec2-serial": `) {
			t.Errorf("err = %q, want it to start with cannot verify the password of \"ec2-serial\"", err)
		}
	default:
		t.Fatalf("bad want %q", want)
	}
	if err != nil && strings.Contains(err.Error(), pw) {
		t.Errorf("error shows the password: %v", err)
	}
}

func TestVerifyCrypt(t *testing.T) {
	if _, err := exec.LookPath("perl"); err != nil {
		t.Fatal("perl is needed to check hashes with crypt(3): apt-get install perl-base")
	}
	tests := []struct {
		name string
		hash string
		pw   string
		want string
	}{
		{"yescrypt, right", yescryptHash, "correct horse", ""},
		{"yescrypt, wrong", yescryptHash, "correct horsf", "wrong"},
		{"sha512, right", sha512Hash, "correct horse", ""},
		{"sha512, wrong", sha512Hash, "Correct horse", "wrong"},
		{"hash crypt(3) does not know", "$9$weird$abcdefghijklmnopqrstuv", "correct horse", "cannot"},
		{"locked", "!" + sha512Hash, "correct horse", "cannot"},
		{"newline in password", sha512Hash, "correct\nhorse", "cannot"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			writeFile(t, filepath.Join(root, "etc/shadow"), "root:*:19000:0:99999:7:::\nec2-serial:"+tt.hash+":19000:0:99999:7:::\n")
			spy := &argvSpy{inner: osexec.Runner{Timeout: 10 * time.Second}}
			c := New(root, spy)
			err := c.Verify(context.Background(), "ec2-serial", agent.NewPassword(tt.pw))
			checkVerifyErr(t, err, tt.want, tt.pw)
			for _, a := range spy.argv {
				if strings.Contains(a, "horse") || strings.Contains(a, "$6$") || strings.Contains(a, "$y$") {
					t.Errorf("argv carries secret material: %q", a)
				}
			}
		})
	}
}

// TestVerifyOutcomes: only a genuine mismatch is ErrWrongPassword (rotate
// mode drops AWSPENDING on it); every other failure is ErrCannotVerify.
func TestVerifyOutcomes(t *testing.T) {
	const (
		chkpwd = "/usr/sbin/unix_chkpwd"
		good   = "ec2-serial:" + sha512Hash + ":19000:0:99999:7:::\n"
	)
	timedOut := ranWith(chkpwd, fmt.Errorf("%w (%w)", exitError(-1), context.DeadlineExceeded))
	tests := []struct {
		name      string
		live      bool
		shadow    string // the user's etc/shadow line; "" for none
		noHelper  bool
		pw        string
		cancelled bool
		fail      error // what the one program run returns
		want      string
		wantRuns  int
	}{
		{name: "live: accepted", live: true, shadow: good, wantRuns: 1},
		{name: "live: PAM_AUTH_ERR is a mismatch", live: true, shadow: good, fail: ranWith(chkpwd, exitError(7)), want: "wrong", wantRuns: 1},
		{name: "live: PAM_AUTHINFO_UNAVAIL", live: true, shadow: good, fail: ranWith(chkpwd, exitError(9)), want: "cannot", wantRuns: 1},
		{name: "live: PAM_SYSTEM_ERR", live: true, shadow: good, fail: ranWith(chkpwd, exitError(4)), want: "cannot", wantRuns: 1},
		{name: "live: PAM_USER_UNKNOWN", live: true, shadow: good, fail: ranWith(chkpwd, exitError(10)), want: "cannot", wantRuns: 1},
		{name: "live: killed by a signal", live: true, shadow: good, fail: ranWith(chkpwd, exitError(-1)), want: "cannot", wantRuns: 1},
		{name: "live: timed out", live: true, shadow: good, fail: timedOut, want: "cannot", wantRuns: 1},
		{name: "live: context cancelled, status 7 after the kill", live: true, shadow: good, cancelled: true,
			fail: ranWith(chkpwd, exitError(7)), want: "cannot", wantRuns: 1},
		{name: "live: helper cannot be run", live: true, shadow: good,
			fail: ranWith(chkpwd, fmt.Errorf("%w in /usr/sbin", exec.ErrNotFound)), want: "cannot", wantRuns: 1},
		{name: "live: helper not installed", live: true, shadow: good, noHelper: true, want: "cannot"},
		{name: "live: longer than pam_unix reads", live: true, shadow: good, pw: strings.Repeat("x", 512), want: "cannot"},
		{name: "live: no shadow entry", live: true, want: "cannot"},
		{name: "live: locked account", live: true, shadow: "ec2-serial:!" + sha512Hash + ":19000:0:99999:7:::\n", want: "cannot"},
		{name: "live: empty password field", live: true, shadow: "ec2-serial::19000:0:99999:7:::\n", want: "cannot"},
		{name: "root: accepted", shadow: good, wantRuns: 1},
		{name: "root: crypt gives another hash", shadow: good, fail: ranWith("perl", exitError(1)), want: "wrong", wantRuns: 1},
		{name: "root: crypt cannot handle the hash", shadow: good, fail: ranWith("perl", exitError(2)), want: "cannot", wantRuns: 1},
		{name: "root: perl died", shadow: good, fail: ranWith("perl", exitError(255)), want: "cannot", wantRuns: 1},
		{name: "root: status 127 is not 1", shadow: good, fail: ranWith("perl", exitError(127)), want: "cannot", wantRuns: 1},
		{name: "root: perl missing", shadow: good, fail: ranWith("perl", exec.ErrNotFound), want: "cannot", wantRuns: 1},
		{name: "root: timed out", shadow: good, fail: ranWith("perl", fmt.Errorf("%w (%w)", exitError(-1), context.DeadlineExceeded)), want: "cannot", wantRuns: 1},
		{name: "root: no shadow entry", want: "cannot"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			writeFile(t, filepath.Join(root, "etc/shadow"), "root:*:19000:0:99999:7:::\n"+tt.shadow)
			if !tt.noHelper {
				writeFile(t, filepath.Join(root, "usr/sbin/unix_chkpwd"), "")
			}
			run := &fakeRunner{}
			if tt.fail != nil {
				run.fail = map[string]error{"": tt.fail}
			}
			c := New(root, run)
			c.liveRoot = tt.live
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancelled {
				cancel()
			}
			pw := tt.pw
			if pw == "" {
				pw = "s3cret pw"
			}
			err := c.Verify(ctx, "ec2-serial", agent.NewPassword(pw))
			checkVerifyErr(t, err, tt.want, pw)
			if len(run.calls) != tt.wantRuns {
				t.Fatalf("ran %q, want %d run(s)", run.calls, tt.wantRuns)
			}
			if tt.wantRuns == 0 {
				return
			}
			wantCall, wantIn := chkpwd+" ec2-serial nonull", pw+"\x00"
			if !tt.live {
				wantCall, wantIn = "perl -e "+perlCheck, sha512Hash+"\n"+pw
			}
			if run.calls[0] != wantCall || run.stdins[0] != wantIn {
				t.Errorf("ran %q with stdin %q, want %q with %q", run.calls[0], run.stdins[0], wantCall, wantIn)
			}
		})
	}
}

// TestMaxPasswordLen: the live system is bound by what unix_chkpwd reads
// (the pass refuses longer passwords before setting them); crypt(3) under
// another root is not.
func TestMaxPasswordLen(t *testing.T) {
	for _, tt := range []struct {
		name string
		live bool
		want int
	}{
		{"live system: unix_chkpwd's bound", true, 511},
		{"another root: no bound of its own", false, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := New(t.TempDir(), &fakeRunner{})
			c.liveRoot = tt.live
			if got := c.MaxPasswordLen(); got != tt.want {
				t.Errorf("MaxPasswordLen() = %d, want %d", got, tt.want)
			}
			var _ agent.Verifier = c
		})
	}
}
