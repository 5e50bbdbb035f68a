// Package e2e runs the serialpass binary against real peers: moto for
// Secrets Manager and EC2, our IMDSv2 emulator for tags and role
// credentials, and shadow-utils with --root on a sandbox directory.
package e2e_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/serialpass/serialpass/internal/imdsemu"
	"github.com/serialpass/serialpass/internal/testbed"
)

const instanceID = "i-0e2e0e2e0e2e0e2e0"

// world is one instance: metadata, the AWS APIs (through a counting proxy)
// and a sandbox root.
type world struct {
	t     *testing.T
	moto  *testbed.Moto
	proxy *testbed.Proxy
	imds  *imdsemu.Server
	// instance is the instance id the emulator serves and tags go to.
	instance string
	root     string
	bin      string
	env      []string
}

// newWorld starts an instance. Tests may share one moto_server (about a
// second to start) by passing it, with their own secret names and
// instance ids; nil starts a new one.
func newWorld(t *testing.T, moto *testbed.Moto, instance string, tags map[string]string, rootOpts ...testbed.RootOption) *world {
	t.Helper()
	if moto == nil {
		moto = testbed.StartMoto(t)
	}
	w := &world{t: t, moto: moto, instance: instance, bin: testbed.Serialpass(t), root: testbed.NewRoot(t, rootOpts...)}
	w.proxy = testbed.NewProxy(t, moto.Endpoint)
	w.imds = imdsemu.New(imdsemu.Options{InstanceID: instance, Tags: tags})
	if err := w.imds.Start(); err != nil {
		t.Fatalf("starting the IMDS emulator: %v", err)
	}
	t.Cleanup(func() { w.imds.Close() })
	// As on an instance: endpoints the standard way, credentials from the
	// instance role served by IMDS, no static keys, no shared files.
	w.env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + t.TempDir(),
		"AWS_EC2_METADATA_SERVICE_ENDPOINT=" + w.imds.URL(),
		"AWS_ENDPOINT_URL=" + w.proxy.URL(),
		"AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null",
	}
	return w
}

// once runs `serialpass once --root ROOT` plus args.
func (w *world) once(args ...string) (code int, stdout, stderr string) {
	w.t.Helper()
	return w.run(append([]string{"once"}, args...)...)
}

func (w *world) config(yaml string) string {
	w.t.Helper()
	p := filepath.Join(w.t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o644); err != nil {
		w.t.Fatal(err)
	}
	return p
}

func (w *world) shadowSum() string {
	return testbed.FileSum(w.t, filepath.Join(w.root, "etc/shadow"))
}

func (w *world) read(rel string) string {
	w.t.Helper()
	b, err := os.ReadFile(filepath.Join(w.root, rel))
	if err != nil {
		w.t.Fatal(err)
	}
	return string(b)
}

// passwdLine returns user's line of the sandbox's etc/passwd, or "".
func (w *world) passwdLine(user string) string {
	for _, l := range strings.Split(w.read("etc/passwd"), "\n") {
		if strings.HasPrefix(l, user+":") {
			return l
		}
	}
	return ""
}

// noLeak fails when the password shows up in any of the texts.
func noLeak(t *testing.T, password string, texts map[string]string) {
	t.Helper()
	for name, s := range texts {
		if strings.Contains(s, password) {
			t.Errorf("the password appears in %s", name)
		}
	}
}
