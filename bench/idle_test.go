//go:build bench

package bench_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/serialpass/serialpass/internal/imdsemu"
	"github.com/serialpass/serialpass/internal/testbed"
)

// steadyPasses is how many passes after the first are counted.
const steadyPasses = 20

// idleWindow is how long a daemon with a long interval is watched idle.
const idleWindow = 20 * time.Second

// TestDaemonCost runs `serialpass run` (interval 1s) against moto behind
// the counting proxy and the IMDS emulator: requests per steady pass, RSS
// after the passes; then a daemon with a 10 min interval, watched idle.
func TestDaemonCost(t *testing.T) {
	const secret, pw = "bench/daemon", "Bench-Daemon-Pw-1"
	moto := testbed.StartMoto(t)
	moto.CreateSecret(t, secret, pw)
	proxy := testbed.NewProxy(t, moto.Endpoint)
	sp := testbed.Serialpass(t)

	start := func(id, interval string) (*exec.Cmd, *imdsemu.Server) {
		moto.InstanceTags(t, id)
		imds := imdsemu.New(imdsemu.Options{InstanceID: id, Tags: map[string]string{"serialpass:secret": secret}})
		if err := imds.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { imds.Close() })
		cfg := filepath.Join(t.TempDir(), "config.yaml")
		if err := os.WriteFile(cfg, []byte("interval: "+interval+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(sp, "run", "--root", testbed.NewRoot(t), "--config", cfg)
		cmd.Env = instanceEnv(t, imds.URL(), proxy.URL())
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() })
		return cmd, imds
	}
	waitFor := func(what string, cond func() bool) {
		for deadline := time.Now().Add(60 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}

	// Steady passes.
	cmd, imds := start("i-0be4c0000000000e2", "1s")
	waitFor("the first pass", func() bool { return proxy.Count("CreateTags") == 1 })
	proxy.Reset()
	imds.Reset()
	begin := time.Now()
	waitFor(fmt.Sprintf("%d passes", steadyPasses), func() bool { return proxy.Count("GetSecretValue") >= steadyPasses })
	took := time.Since(begin)
	api, md := proxy.Counts(), imds.Counts()
	rss, hwm := statusKB(t, cmd.Process.Pid, "VmRSS"), statusKB(t, cmd.Process.Pid, "VmHWM")
	n := float64(api["GetSecretValue"])
	var s strings.Builder
	fmt.Fprintf(&s, "`serialpass run`, interval 1s (±10%% jitter), %d steady passes after the first (%.1f s).\n\n", int(n), took.Seconds())
	s.WriteString("| per steady pass | requests |\n|---|---|\n")
	fmt.Fprintf(&s, "| API GetSecretValue | %.2f |\n| API CreateTags | %.2f |\n", n/n, float64(api["CreateTags"])/n)
	for k, v := range api {
		if k != "GetSecretValue" && k != "CreateTags" {
			fmt.Fprintf(&s, "| API %s | %.2f |\n", k, float64(v)/n)
		}
	}
	for k, v := range md {
		fmt.Fprintf(&s, "| IMDS %s | %.2f |\n", k, float64(v)/n)
	}
	extraIMDS := 0
	for k, v := range md {
		if k != "PUT /latest/api/token" && !strings.HasPrefix(k, "GET /latest/meta-data/tags/instance") {
			extraIMDS += v
		}
	}
	fmt.Fprintf(&s, "\nRSS after the passes: %.1f MB (peak %.1f MB). Goals: RSS ≤ 15 MB — %s; 1 Secrets Manager call — %s; 0 CreateTags — %s; no IMDS calls beyond token and tags — %s (%d others).\n",
		float64(rss)/1024, float64(hwm)/1024, verdict(rss <= 15*1024), verdict(api["GetSecretValue"] == int(n) && len(api) <= 2),
		verdict(api["CreateTags"] == 0), verdict(extraIMDS == 0), extraIMDS)

	// Idle: a 10 min interval, watched for idleWindow after its first pass.
	idle, _ := start("i-0be4c0000000000f3", "10m")
	waitFor("the idle daemon's first pass", func() bool { return proxy.Count("CreateTags") == 1 })
	time.Sleep(time.Second)
	v0, i0 := ctxSwitches(t, idle.Process.Pid)
	time.Sleep(idleWindow)
	v1, i1 := ctxSwitches(t, idle.Process.Pid)
	irss := statusKB(t, idle.Process.Pid, "VmRSS")
	fmt.Fprintf(&s, "\nIdle (interval 10m, %v watched after the first pass, all threads): %d voluntary and %d involuntary context switches (%.2f/s; %d and %d since it started), RSS %.1f MB.\n",
		idleWindow, v1-v0, i1-i0, float64(v1-v0+i1-i0)/idleWindow.Seconds(), v1, i1, float64(irss)/1024)
	section(t, "2-daemon-cost", s.String())
}

// statusKB reads a "Key: N kB" line of /proc/PID/status.
func statusKB(t *testing.T, pid int, key string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, key+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", key, pid)
	return 0
}

// ctxSwitches sums voluntary and involuntary context switches over the
// process's threads.
func ctxSwitches(t *testing.T, pid int) (vol, invol int64) {
	t.Helper()
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, task.Name()))
		if err != nil {
			continue // thread gone
		}
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "voluntary_ctxt_switches:"); ok {
				n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				vol += n
			}
			if v, ok := strings.CutPrefix(l, "nonvoluntary_ctxt_switches:"); ok {
				n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				invol += n
			}
		}
	}
	return vol, invol
}
