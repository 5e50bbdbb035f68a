// Package leak looks for the password, and its hash, everywhere a run of the
// serialpass binary could leave them: the argv and environment of every
// process (sampled from /proc while the agent and its shadow-utils children
// run), stdout, stderr, the state file, the tags written, and every file
// under the sandbox root except etc/shadow and its backup etc/shadow-.
package leak_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/serialpass/serialpass/internal/imdsemu"
	"github.com/serialpass/serialpass/internal/testbed"
)

const (
	instanceID = "i-0a1ea4000000000c3"
	secretName = "leak/console"
	user       = "ec2-serial"
	// maxAttempts bounds the passes run until the sampler has caught both
	// useradd and chpasswd, which live a few milliseconds each.
	maxAttempts = 10
)

// canary returns a fresh password no process on the machine can hold by
// chance.
func canary(t *testing.T) string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "Lk-" + hex.EncodeToString(b)
}

// TestNoLeakInOnePass runs full passes (user created, password set) on
// fresh sandbox roots, each with a new secret version, while the sampler
// reads /proc, until it has seen the agent's children; then it looks for
// every password and hash in everything captured.
func TestNoLeakInOnePass(t *testing.T) {
	moto := testbed.StartMoto(t)
	proxy := testbed.NewProxy(t, moto.Endpoint)
	imds := imdsemu.New(imdsemu.Options{InstanceID: instanceID, Tags: map[string]string{"serialpass:secret": secretName}})
	if err := imds.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { imds.Close() })
	bin := testbed.Serialpass(t)
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + t.TempDir(),
		"AWS_EC2_METADATA_SERVICE_ENDPOINT=" + imds.URL(),
		"AWS_ENDPOINT_URL=" + proxy.URL(),
		"AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null",
	}

	s := startSampler(time.Millisecond)
	stopped := false
	defer func() {
		if !stopped {
			s.Stop()
		}
	}()

	var (
		passwords []string
		hashes    []string
		roots     []string
		texts     = map[string]string{} // where -> captured text
	)
	for attempt := 0; attempt < maxAttempts && (s.seen("chpasswd") == 0 || s.seen("useradd") == 0); attempt++ {
		pw := canary(t)
		passwords = append(passwords, pw)
		value := `{"username":"` + user + `","password":"` + pw + `"}`
		if attempt == 0 {
			moto.CreateSecret(t, secretName, value)
		} else {
			moto.PutSecret(t, secretName, value)
		}
		root := testbed.NewRoot(t)
		roots = append(roots, root)
		cmd := exec.Command(bin, "once", "--root", root, "-v")
		cmd.Env = env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("once (attempt %d): %v\n%s", attempt, err, stderr.String())
		}
		hash := testbed.ShadowHash(t, root, user)
		if !testbed.VerifyPassword(t, hash, pw) {
			t.Fatalf("attempt %d: the password was not set", attempt)
		}
		hashes = append(hashes, hash)
		tags, _ := json.Marshal(moto.InstanceTags(t, instanceID))
		if !strings.Contains(string(tags), `"serialpass:status":"ready"`) {
			t.Errorf("attempt %d: tags %s", attempt, tags)
		}
		if _, err := os.Stat(filepath.Join(root, "var/lib/serialpass/state.json")); err != nil {
			t.Errorf("attempt %d: no state file: %v", attempt, err)
		}
		n := strings.Repeat("'", attempt) // keeps the keys of each attempt apart
		texts["stdout"+n] = stdout.String()
		texts["stderr (-v)"+n] = stderr.String()
		texts["tags"+n] = string(tags)
		walkRoot(t, root, texts, n)
	}
	s.Stop()
	stopped = true
	rounds, distinct := s.stats()
	t.Logf("%d passes; sampler: %d rounds of /proc, %d distinct cmdline/environ texts; read useradd %d times, chpasswd %d times",
		len(passwords), rounds, distinct, s.seen("useradd"), s.seen("chpasswd"))

	// The sampler must have seen the children, with their --root argument,
	// or finding nothing proves nothing.
	if s.seen("chpasswd") == 0 || s.seen("useradd") == 0 {
		t.Fatalf("in %d passes the sampler never caught both useradd and chpasswd (saw %d, %d): it cannot vouch for argv and environ",
			len(passwords), s.seen("useradd"), s.seen("chpasswd"))
	}
	if where := s.find(roots[len(roots)-1]); where == "" {
		t.Error("the sampler never saw the sandbox root in any argv: it is not looking at the agent's processes")
	}

	for i, pw := range passwords {
		if where := s.find(pw); where != "" {
			t.Errorf("password %d seen in /proc/%s", i, where)
		}
		for name, text := range texts {
			if strings.Contains(text, pw) {
				t.Errorf("password %d appears in %s", i, name)
			}
		}
	}
	for i, h := range hashes {
		if where := s.find(h); where != "" {
			t.Errorf("hash %d seen in /proc/%s", i, where)
		}
		for name, text := range texts {
			if strings.HasSuffix(strings.TrimRight(name, "'"), "/etc/shadow") || strings.HasSuffix(strings.TrimRight(name, "'"), "/etc/shadow-") {
				continue
			}
			if strings.Contains(text, h) {
				t.Errorf("hash %d appears in %s", i, name)
			}
		}
	}
}

// walkRoot adds every regular file under root to texts, keyed by its path
// relative to root ("root/etc/passwd"), etc/shadow included: the plain
// password may not be there either.
func walkRoot(t *testing.T, root string, texts map[string]string, suffix string) {
	t.Helper()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		texts["root/"+rel+suffix] = string(b)
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("walking %s: %v", root, err)
	}
	for _, want := range []string{"etc/shadow", "var/lib/serialpass/state.json"} {
		if _, ok := texts["root/"+want+suffix]; !ok {
			t.Errorf("walk found no %s", want)
		}
	}
}
