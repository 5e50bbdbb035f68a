//go:build bench

package bench_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/serialpass/serialpass/internal/testbed"
)

// BENCH_PAIRS sets the measured pairs (default 10), after one warm-up pair.
func pairs() int {
	if n, err := strconv.Atoi(os.Getenv("BENCH_PAIRS")); err == nil && n > 0 {
		return n
	}
	return 10
}

type runCost struct {
	wall  time.Duration
	rssKB int64 // peak RSS of the largest process of the tree (GNU time)
}

// TestOnceVsDIY runs `serialpass once` and bench/diy.sh alternately (A B A
// B) against the same moto and imdsemu binary, each on a fresh sandbox
// root, and compares wall time and peak RSS.
func TestOnceVsDIY(t *testing.T) {
	if _, err := os.Stat("/usr/bin/time"); err != nil {
		t.Fatal("peak RSS is read with GNU time: apt-get install time (bench/run.sh does)")
	}
	if _, err := os.Stat("/usr/bin/aws"); err != nil {
		t.Fatal("the DIY script needs Debian's awscli: apt-get install awscli (bench/run.sh does)")
	}
	for _, tool := range []string{"curl", "jq", "chpasswd", "useradd"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the DIY script needs %s: apt-get install curl jq passwd", tool)
		}
	}
	const id, secret, pw = "i-0be4c0000000000d1", "bench/console", "Bench-Pw-0123456789"
	moto := testbed.StartMoto(t)
	moto.CreateSecret(t, secret, `{"username":"ec2-serial","password":"`+pw+`"}`)
	moto.InstanceTags(t, id) // moto's EC2 backend loads on first use
	imds := startIMDSBinary(t, id, `{"serialpass:secret":"`+secret+`"}`)
	env := instanceEnv(t, imds, moto.Endpoint)
	sp := testbed.Serialpass(t)
	diy := filepath.Join(testbed.RepoRoot(t), "bench", "diy.sh")

	// Both run under GNU time, which reports the peak RSS of the largest
	// process of the tree (wait4 of its own fork). The rusage of a child
	// of this test process would not do: Go starts children with
	// vfork, so the kernel counts this process's own peak (large after
	// the fleet run) into the child's.
	rssFile := filepath.Join(t.TempDir(), "rss")
	run := func(name string) runCost {
		root := testbed.NewRoot(t)
		timed := []string{"/usr/bin/time", "-f", "%M", "-o", rssFile}
		var cmd *exec.Cmd
		if name == "serialpass" {
			cmd = exec.Command(timed[0], append(timed[1:], sp, "once", "--root", root)...)
			cmd.Env = env
		} else {
			cmd = exec.Command(timed[0], append(timed[1:], diy)...)
			// botocore appends "latest/..." to the endpoint as is.
			cmd.Env = append(instanceEnv(t, imds+"/", moto.Endpoint), "ROOT="+root)
		}
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		begin := time.Now()
		err := cmd.Run()
		wall := time.Since(begin)
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out.String())
		}
		if !testbed.VerifyPassword(t, testbed.ShadowHash(t, root, "ec2-serial"), pw) {
			t.Fatalf("%s did not set the password", name)
		}
		kb, err := os.ReadFile(rssFile)
		if err != nil {
			t.Fatal(err)
		}
		rss, err := strconv.ParseInt(strings.TrimSpace(string(kb)), 10, 64)
		if err != nil {
			t.Fatalf("GNU time wrote %q: %v", kb, err)
		}
		return runCost{wall: wall, rssKB: rss}
	}

	run("serialpass")
	run("diy")
	var spWall, diyWall, spRSS, diyRSS, wallRatio, rssRatio []float64
	for range pairs() {
		a, b := run("serialpass"), run("diy")
		spWall = append(spWall, a.wall.Seconds()*1000)
		diyWall = append(diyWall, b.wall.Seconds()*1000)
		spRSS = append(spRSS, float64(a.rssKB)/1024)
		diyRSS = append(diyRSS, float64(b.rssKB)/1024)
		wallRatio = append(wallRatio, b.wall.Seconds()/a.wall.Seconds())
		rssRatio = append(rssRatio, float64(a.rssKB)/float64(b.rssKB))
	}
	w, r := summarize(wallRatio), summarize(rssRatio)
	var s strings.Builder
	fmt.Fprintf(&s, "%d pairs after one warm-up pair, alternating serialpass, DIY; fresh sandbox root each run; both under GNU time (`-f %%M`) for the peak RSS of the largest process of each run's tree, so each wall time includes its fork and exec (well under a millisecond).\n\n", pairs())
	s.WriteString("| figure | min | median | max |\n|---|---|---|---|\n")
	fmt.Fprintf(&s, "| serialpass once wall (ms) | %s |\n", summarize(spWall).row("%.1f"))
	fmt.Fprintf(&s, "| DIY script wall (ms) | %s |\n", summarize(diyWall).row("%.1f"))
	fmt.Fprintf(&s, "| DIY / serialpass wall, per pair (×) | %s |\n", w.row("%.1f"))
	fmt.Fprintf(&s, "| serialpass peak RSS (MB) | %s |\n", summarize(spRSS).row("%.1f"))
	fmt.Fprintf(&s, "| DIY peak RSS (MB) | %s |\n", summarize(diyRSS).row("%.1f"))
	fmt.Fprintf(&s, "| serialpass / DIY peak RSS, per pair | %s |\n", r.row("%.3f"))
	fmt.Fprintf(&s, "\nGoal ≥ 30× faster: median %.1f× — %s. Goal ≤ 1/4 peak RSS: median %.3f — %s.\n",
		w.med, verdict(w.med >= 30), r.med, verdict(r.med <= 0.25))
	section(t, "1-once-vs-diy", s.String())
}

func verdict(ok bool) string {
	if ok {
		return "**met**"
	}
	return "**not met**"
}
