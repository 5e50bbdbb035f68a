// Package faults runs the serialpass binary through boot-time faults:
// instance metadata refusing connections, Secrets Manager throttling. The
// peers are real: moto behind the testbed's counting proxy, our IMDSv2
// emulator, shadow-utils with --root on a sandbox.
package faults_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/serialpass/serialpass/internal/imdsemu"
	"github.com/serialpass/serialpass/internal/testbed"
)

// instance is one EC2 instance as the binary sees it.
type instance struct {
	t     *testing.T
	id    string
	moto  *testbed.Moto
	proxy *testbed.Proxy
	imds  *imdsemu.Server
	root  string
	bin   string
	env   []string
}

func newInstance(t *testing.T, id string, tags map[string]string) *instance {
	t.Helper()
	moto := testbed.StartMoto(t)
	in := &instance{t: t, id: id, moto: moto, bin: testbed.Serialpass(t), root: testbed.NewRoot(t)}
	in.proxy = testbed.NewProxy(t, moto.Endpoint)
	in.imds = imdsemu.New(imdsemu.Options{InstanceID: id, Tags: tags})
	if err := in.imds.Start(); err != nil {
		t.Fatalf("starting the IMDS emulator: %v", err)
	}
	t.Cleanup(func() { in.imds.Close() })
	// moto builds its EC2 backend on the first EC2 call (about 2 s): pay
	// for that here, not in the agent's timings.
	moto.InstanceTags(t, id)
	// As on an instance: role credentials from IMDS, no static keys.
	in.env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + t.TempDir(),
		"AWS_EC2_METADATA_SERVICE_ENDPOINT=" + in.imds.URL(),
		"AWS_ENDPOINT_URL=" + in.proxy.URL(),
		"AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null",
	}
	return in
}

// config writes a config file and returns its path.
func (in *instance) config(yaml string) string {
	in.t.Helper()
	p := filepath.Join(in.t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o644); err != nil {
		in.t.Fatal(err)
	}
	return p
}

// start starts `serialpass CMD --root ROOT args...`; the process is killed
// when the test ends if still running.
func (in *instance) start(cmdName string, args ...string) *proc {
	in.t.Helper()
	cmd := exec.Command(in.bin, append([]string{cmdName, "--root", in.root}, args...)...)
	cmd.Env = in.env
	p := &proc{cmd: cmd, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = &p.stdout, &p.stderr
	if err := cmd.Start(); err != nil {
		in.t.Fatalf("starting serialpass: %v", err)
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	in.t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// proc is a running serialpass.
type proc struct {
	cmd            *exec.Cmd
	done           chan struct{}
	err            error
	stdout, stderr lockedBuffer
}

// lockedBuffer is a bytes.Buffer the child writes while the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
