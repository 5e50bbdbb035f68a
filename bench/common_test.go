//go:build bench

// Package bench measures serialpass: one pass against the do-it-yourself
// script, the daemon's idle and steady cost, and a fleet booting at once
// under API throttling. Not part of the default test run: bench/run.sh
// (make bench) runs it with -tags bench and writes bench/RESULTS.md.
package bench_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/serialpass/serialpass/internal/testbed"
)

// section appends a markdown section to $BENCH_OUT (when set) and logs it.
func section(t *testing.T, name, body string) {
	t.Helper()
	t.Logf("\n## %s\n%s", name, body)
	dir := os.Getenv("BENCH_OUT")
	if dir == "" {
		return
	}
	if err := os.WriteFile(filepath.Join(dir, name+".md"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// stats is min / median / max of a sample.
type stats struct{ min, med, max float64 }

func summarize(xs []float64) stats {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return stats{s[0], med, s[n-1]}
}

func (s stats) row(format string) string {
	return fmt.Sprintf(format+" | "+format+" | "+format, s.min, s.med, s.max)
}

var imdsemuBuild struct {
	once sync.Once
	path string
	err  error
	out  []byte
}

// imdsemuBinary builds internal/imdsemu/cmd/imdsemu once.
func imdsemuBinary(t *testing.T) string {
	t.Helper()
	b := &imdsemuBuild
	b.once.Do(func() {
		dir, err := os.MkdirTemp("", "imdsemu-bin-")
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(dir, "imdsemu")
		cmd := exec.Command("go", "build", "-o", b.path, "./internal/imdsemu/cmd/imdsemu")
		cmd.Dir = testbed.RepoRoot(t)
		b.out, b.err = cmd.CombinedOutput()
	})
	if b.err != nil {
		t.Fatalf("building imdsemu: %v\n%s", b.err, b.out)
	}
	return b.path
}

// startIMDSBinary runs the imdsemu binary with tags and returns its URL.
func startIMDSBinary(t *testing.T, instanceID, tagsJSON string) string {
	t.Helper()
	tags := filepath.Join(t.TempDir(), "tags.json")
	if err := os.WriteFile(tags, []byte(tagsJSON), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(imdsemuBinary(t), "-addr", "127.0.0.1:0", "-instance-id", instanceID,
		"-region", testbed.MotoRegion, "-tags-file", tags)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting imdsemu: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "imdsemu listening on "); ok {
				line <- u
			}
		}
	}()
	select {
	case u := <-line:
		return u
	case <-time.After(10 * time.Second):
		t.Fatal("imdsemu did not say it listens within 10 s")
		return ""
	}
}

// instanceEnv is a child's environment on an instance: metadata and API
// endpoints the standard way, role credentials from IMDS, no static keys.
func instanceEnv(t *testing.T, imdsURL, apiURL string) []string {
	return []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=" + t.TempDir(),
		"LANG=C.UTF-8",
		"AWS_EC2_METADATA_SERVICE_ENDPOINT=" + imdsURL,
		"AWS_EC2_METADATA_V1_DISABLED=true",
		"AWS_ENDPOINT_URL=" + apiURL,
		"AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"AWS_PAGER=",
	}
}
