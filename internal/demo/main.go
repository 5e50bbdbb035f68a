// Command demo shows one serialpass pass end to end on this machine: it
// starts moto (Secrets Manager, EC2) and our IMDSv2 emulator, creates a
// secret and instance tags, runs `serialpass once --root` on a throwaway
// sandbox and shows what changed. Run it with `make demo`.
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/serialpass/serialpass/internal/imdsemu"
	"github.com/serialpass/serialpass/internal/testbed"
)

const (
	instanceID = "i-0de30de30de30de30"
	secretName = "demo/console"
)

func main() {
	d := newRunner()
	defer d.cleanup()
	bin := filepath.Join(testbed.RepoRoot(d), "bin", "serialpass")
	if _, err := os.Stat(bin); err != nil {
		d.Fatalf("%s is missing: run `make build` (make demo does)", bin)
	}

	moto := testbed.StartMoto(d)
	proxy := testbed.NewProxy(d, moto.Endpoint)
	step("moto_server (Secrets Manager, EC2) at %s, through a counting proxy at %s", moto.Endpoint, proxy.URL())

	imds := imdsemu.New(imdsemu.Options{InstanceID: instanceID, Tags: map[string]string{
		"Name": "demo-web-1", "serialpass:secret": secretName,
	}})
	if err := imds.Start(); err != nil {
		d.Fatalf("starting the IMDS emulator: %v", err)
	}
	d.Cleanup(func() { imds.Close() })
	step("IMDSv2 emulator at %s: instance %s, tags Name=demo-web-1 serialpass:secret=%s", imds.URL(), instanceID, secretName)

	password := randomPassword()
	_, v1 := moto.CreateSecret(d, secretName, `{"username":"ec2-serial","password":"`+password+`"}`)
	step("secret %s created, version %s (a random password, never printed)", secretName, v1)

	root := testbed.NewRoot(d)
	step("sandbox root %s (etc/passwd, shadow, group, login.defs: what shadow-utils --root needs)", root)

	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"AWS_EC2_METADATA_SERVICE_ENDPOINT=" + imds.URL(),
		"AWS_ENDPOINT_URL=" + proxy.URL(),
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
	}
	once := func() int {
		fmt.Printf("\n  $ serialpass once --root %s\n", root)
		cmd := exec.Command(bin, "once", "--root", root)
		cmd.Env, cmd.Stdout, cmd.Stderr = env, indent{os.Stdout}, indent{os.Stdout}
		err := cmd.Run()
		code := cmd.ProcessState.ExitCode()
		if err != nil && code < 0 {
			d.Fatalf("running serialpass: %v", err)
		}
		fmt.Printf("    exit %d\n", code)
		return code
	}

	step("first pass: credentials come from the instance role served by IMDS, as on EC2")
	proxy.Reset()
	if once() != 0 {
		d.Fatalf("the first pass failed")
	}
	show("etc/passwd", grepLine(d, root, "etc/passwd", "ec2-serial:"))
	show("etc/group", grepLine(d, root, "etc/group", "sudo:"))
	hash := testbed.ShadowHash(d, root, "ec2-serial")
	show("hash scheme", scheme(hash))
	show("password verifies (crypt(3) via perl, stdin)", yesNo(testbed.VerifyPassword(d, hash, password)))
	show("API calls", fmt.Sprint(proxy.Counts()))
	show("instance tags", tagLine(moto.InstanceTags(d, instanceID)))
	state, _ := os.ReadFile(filepath.Join(root, "var/lib/serialpass/state.json"))
	show("state file (no password, no hash)", strings.Join(strings.Fields(string(state)), " "))

	step("second pass: nothing to do")
	before := testbed.FileSum(d, filepath.Join(root, "etc/shadow"))
	proxy.Reset()
	once()
	show("etc/shadow unchanged", yesNo(before == testbed.FileSum(d, filepath.Join(root, "etc/shadow"))))
	show("API calls", fmt.Sprint(proxy.Counts()))

	step("a new AWSCURRENT version is applied on the next pass")
	password2 := randomPassword()
	v2 := moto.PutSecret(d, secretName, password2)
	once()
	show("new password verifies", yesNo(testbed.VerifyPassword(d, testbed.ShadowHash(d, root, "ec2-serial"), password2)))
	show("status version tag", moto.InstanceTags(d, instanceID)["serialpass:status:version"]+" (want "+v2+")")

	step("a bad secret (a newline would let chpasswd set another user's password) is refused")
	before = testbed.FileSum(d, filepath.Join(root, "etc/shadow"))
	moto.PutSecret(d, secretName, `{"password":"x\nroot:owned"}`)
	once()
	show("etc/shadow unchanged", yesNo(before == testbed.FileSum(d, filepath.Join(root, "etc/shadow"))))
	show("instance tags", tagLine(moto.InstanceTags(d, instanceID)))
	fmt.Println("\ndemo done: the emulators stop and the sandbox is removed.")
}

func step(format string, args ...any) { fmt.Printf("\n== "+format+"\n", args...) }

func show(what, value string) { fmt.Printf("    %-46s %s\n", what+":", value) }

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "NO"
}

func scheme(hash string) string {
	switch {
	case strings.HasPrefix(hash, "$6$"):
		return "$6$ (SHA-512, the root's login.defs ENCRYPT_METHOD)"
	case strings.HasPrefix(hash, "$y$"):
		return "$y$ (yescrypt)"
	}
	return "unknown"
}

func grepLine(d *runner, root, rel, prefix string) string {
	b, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		d.Fatalf("reading %s: %v", rel, err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return "(none)"
}

func tagLine(tags map[string]string) string {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		v, _ := json.Marshal(tags[k])
		fmt.Fprintf(&b, "\n      %s=%s", k, v)
	}
	return b.String()
}

// randomPassword makes a demo password; it is never printed.
func randomPassword() string { return "Demo-" + rand.Text()[:16] }

// indent prefixes the agent's output so it reads apart from the demo's.
type indent struct{ w *os.File }

func (i indent) Write(p []byte) (int, error) {
	s := strings.TrimRight(string(p), "\n")
	fmt.Fprintf(i.w, "    | %s\n", strings.ReplaceAll(s, "\n", "\n    | "))
	return len(p), nil
}

// runner stands in for testing.T so the demo can use the test bed.
type runner struct {
	ctx      context.Context
	cancel   context.CancelFunc
	cleanups []func()
}

func newRunner() *runner {
	ctx, cancel := context.WithCancel(context.Background())
	return &runner{ctx: ctx, cancel: cancel}
}

func (r *runner) Helper()                  {}
func (r *runner) Context() context.Context { return r.ctx }
func (r *runner) Cleanup(f func())         { r.cleanups = append(r.cleanups, f) }

func (r *runner) Fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "demo: "+format+"\n", args...)
	r.cleanup()
	os.Exit(1)
}

func (r *runner) TempDir() string {
	dir, err := os.MkdirTemp("", "serialpass-demo-")
	if err != nil {
		r.Fatalf("%v", err)
	}
	r.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func (r *runner) cleanup() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
	r.cleanups = nil
	r.cancel()
}
