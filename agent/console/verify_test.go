package console

import (
	"context"
	"errors"
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

func TestVerifyCrypt(t *testing.T) {
	if _, err := exec.LookPath("perl"); err != nil {
		t.Fatal("perl is needed to check hashes with crypt(3): apt-get install perl-base")
	}
	tests := []struct {
		name    string
		hash    string
		pw      string
		wantErr error
	}{
		{"yescrypt, right", yescryptHash, "correct horse", nil},
		{"yescrypt, wrong", yescryptHash, "correct horsf", ErrWrongPassword},
		{"sha512, right", sha512Hash, "correct horse", nil},
		{"sha512, wrong", sha512Hash, "Correct horse", ErrWrongPassword},
		{"locked", "!" + sha512Hash, "correct horse", ErrWrongPassword},
		{"newline in password", sha512Hash, "correct\nhorse", ErrCannotVerify},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			writeFile(t, filepath.Join(root, "etc/shadow"), "root:*:19000:0:99999:7:::\nec2-serial:"+tt.hash+":19000:0:99999:7:::\n")
			spy := &argvSpy{inner: osexec.Runner{Timeout: 10 * time.Second}}
			c := New(root, spy)
			err := c.Verify(context.Background(), "ec2-serial", agent.NewPassword(tt.pw))
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), tt.pw) {
				t.Errorf("error shows the password: %v", err)
			}
			for _, a := range spy.argv {
				if strings.Contains(a, "horse") || strings.Contains(a, "$6$") || strings.Contains(a, "$y$") {
					t.Errorf("argv carries secret material: %q", a)
				}
			}
		})
	}
}

func TestVerifyNoSuchUser(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "etc/shadow"), "root:*:19000:0:99999:7:::\n")
	c := New(root, &fakeRunner{})
	if err := c.Verify(context.Background(), "ec2-serial", agent.NewPassword("x")); err == nil {
		t.Fatal("no error for a missing user")
	}
}

func TestVerifyLiveUsesChkpwd(t *testing.T) {
	tests := []struct {
		name    string
		helper  bool
		fail    map[string]error
		wantErr error
	}{
		{"accepted", true, nil, nil},
		{"refused", true, map[string]error{"/usr/sbin/unix_chkpwd": errors.New("exit status 7")}, ErrWrongPassword},
		{"no helper", false, nil, ErrCannotVerify},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			if tt.helper {
				writeFile(t, filepath.Join(root, "usr/sbin/unix_chkpwd"), "")
			}
			run := &fakeRunner{fail: tt.fail}
			c := New(root, run)
			c.liveRoot = true
			err := c.Verify(context.Background(), "ec2-serial", agent.NewPassword("s3cret pw"))
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if !tt.helper {
				return
			}
			if run.calls[0] != "/usr/sbin/unix_chkpwd ec2-serial nullok" || run.stdins[0] != "s3cret pw\x00" {
				t.Errorf("ran %q with stdin %q", run.calls, run.stdins)
			}
		})
	}
}
