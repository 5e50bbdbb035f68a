package osexec

import (
	"context"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/serialpass/serialpass/agent"
)

var _ agent.Runner = Runner{}

func TestRun(t *testing.T) {
	t.Setenv("SERIALPASS_TEST_LEAK", "must-not-reach-the-child")
	tests := []struct {
		name    string
		stdin   string
		argv    []string
		want    string
		wantErr []string // substrings of the error; nil means success
	}{
		{name: "stdout returned", argv: []string{"echo", "hello"}, want: "hello\n"},
		{name: "stdin fed", stdin: "user:pw\n", argv: []string{"cat"}, want: "user:pw\n"},
		{name: "no shell expansion", argv: []string{"echo", "a;b", "$(id)", "*"}, want: "a;b $(id) *\n"},
		{name: "clean environment", argv: []string{"env"}, want: "PATH=/usr/sbin:/usr/bin:/sbin:/bin\nLANG=C\n"},
		{name: "absolute path", argv: []string{"/bin/echo", "x"}, want: "x\n"},
		{name: "exit status and stderr", argv: []string{"ls", "/nonexistent-serialpass"},
			wantErr: []string{"running ls: exit status 2: ", "No such file or directory"}},
		{name: "missing program", argv: []string{"serialpass-no-such-program"},
			wantErr: []string{"running serialpass-no-such-program: ", "executable file not found"}},
		{name: "relative path refused", argv: []string{"./echo"}, wantErr: []string{"relative program path"}},
		{name: "empty argv", argv: nil, wantErr: []string{"empty argv"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var in io.Reader
			if tt.stdin != "" {
				in = strings.NewReader(tt.stdin)
			}
			out, err := Runner{}.Run(t.Context(), in, tt.argv...)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("Run(%q) = %q, want an error", tt.argv, out)
				}
				for _, s := range tt.wantErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not contain %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Run(%q): %v", tt.argv, err)
			}
			if string(out) != tt.want {
				t.Errorf("Run(%q) = %q, want %q", tt.argv, out, tt.want)
			}
		})
	}
}

func TestRunExitErrorUnwraps(t *testing.T) {
	_, err := Runner{}.Run(t.Context(), nil, "false")
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("Run(false) error = %v, want an *exec.ExitError with code 1", err)
	}
}

func TestRunClipsStderr(t *testing.T) {
	long := strings.Repeat("x", 5000)
	// ls quotes the missing path on stderr: a long, predictable message.
	_, err := Runner{}.Run(t.Context(), nil, "ls", "/"+long)
	if err == nil {
		t.Fatal("Run succeeded, want an error")
	}
	if n := len(err.Error()); n > maxStderr+100 {
		t.Errorf("error is %d bytes, want stderr clipped to about %d", n, maxStderr)
	}
	if !strings.HasSuffix(err.Error(), "...") {
		t.Errorf("clipped error %q does not end in ...", err.Error()[len(err.Error())-20:])
	}
}

func TestRunTimeouts(t *testing.T) {
	tests := []struct {
		name string
		r    Runner
		ctx  func(t *testing.T) context.Context
		want error
	}{
		{
			name: "runner timeout",
			r:    Runner{Timeout: 200 * time.Millisecond, WaitDelay: 200 * time.Millisecond},
			ctx:  func(t *testing.T) context.Context { return t.Context() },
			want: context.DeadlineExceeded,
		},
		{
			name: "caller cancels",
			r:    Runner{WaitDelay: 200 * time.Millisecond},
			ctx: func(t *testing.T) context.Context {
				ctx, cancel := context.WithCancel(t.Context())
				time.AfterFunc(200*time.Millisecond, cancel)
				return ctx
			},
			want: context.Canceled,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			// timeout(1) forks sleep: a grandchild holding our stdout pipe,
			// which only the group kill or WaitDelay can get rid of.
			_, err := tt.r.Run(tt.ctx(t), nil, "timeout", "20", "sleep", "20")
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("Run took %v after the deadline, want well under 5s", took)
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("Run error = %v, want it to wrap %v", err, tt.want)
			}
		})
	}
}

func TestRunStdinNotRead(t *testing.T) {
	// A child that ignores a large stdin must not block us.
	big := strings.NewReader(strings.Repeat("y", 1<<20))
	if _, err := (Runner{WaitDelay: time.Second}).Run(t.Context(), big, "true"); err != nil {
		t.Fatalf("Run(true) with unread stdin: %v", err)
	}
}
