package vm_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// expected is what the serial log (the VM's ttyS0 and the ssh sessions, as
// expect saw them) must show for the run to count.
var expected = []struct{ name, re string }{
	{"the banner line", `serialpass: ready user=` + user + ` secret=` + regexp.QuoteMeta(secretName) +
		` version=[0-9a-f-]{8} at \d{4}-\d\d-\d\dT`},
	{"id as the console user", `uid=\d+\(` + user + `\)`},
	{"sudo rights", `\(ALL( : ALL)?\) ALL`},
	{"the SSH positive control", `VMTEST-SSH-CONTROL \d+`},
	{"the SSH refusal", `VMTEST-SSH-REFUSED \d+`},
	{"the script's pass marker", `(?m)^VMTEST-PASS\r*$`},
	{"no failed units", `FAILED-UNITS=0\r*\n`},
	// serialpass doctor on the live system: nothing fails; the host checks
	// that read /proc/cmdline and ask systemd pass.
	{"doctor exiting 0", `DOCTOR-EXIT=0\r*\n`},
	{"doctor: the kernel console", `✓ kernel console +console=ttyS0 in /proc/cmdline`},
	{"doctor: the getty", `✓ serial getty +serial-getty@ttyS0\.service is (enabled|started by systemd)`},
	{"doctor: the user", `✓ managed user +user ` + user + ` exists, is unlocked`},
	{"doctor: pam_access", `✓ pam_access +` + user + ` may log in on ttyS0 only`},
	{"doctor: the sshd drop-in", `✓ sshd drop-in +sshd refuses ` + user},
	// The aging chage took off under the hardened unit (chage -l's lines).
	{"no password expiry after the reload", `Password expires\s*: never`},
	{"no inactivity period after the reload", `Password inactive\s*: never`},
	// kardianos/service against the packaged unit on systemd.
	{"service-status running", `running\s+SERVICE-EXIT=0`},
	{"stop", `stopped\s+STOP-EXIT=3`},
	{"start", `running\s+START-EXIT=0`},
	{"restart", `running\s+RESTART-EXIT=0`},
	{"serialpass status", `last pass:\s+ready at [^\n]*\n(.*\n)*?service:\s+running\s+STATUS-EXIT=0`},
}

// expectedInJournal is what the journal dump (between the markers M-45 and
// M-46 of login.exp) must hold, so that the checks of unexpected output
// below cannot pass on an empty or missing dump, and so that the SSH
// refusal is shown to come from our drop-in and not from anything else.
var expectedInJournal = []struct{ name, re string }{
	{"the agent's log lines", `serialpass\[\d+\]: time=\S+ level=INFO `},
	{"sshd accepting the control user", `sshd\[\d+\]: Accepted password for ` + controlUser + ` `},
	{"sshd refusing the managed user by DenyUsers", `sshd\[\d+\]: User ` + user + ` from \S+ not allowed because listed in DenyUsers`},
	{"the agent taking the aging off", `serialpass\[\d+\]: time=\S+ level=INFO msg="password aging removed"[^\n]* user=` + user},
	{"systemd stopping the agent on serialpass stop", `systemd\[1\]: Stopped (serialpass\.service|serialpass: EC2 Serial Console)`},
}

// unexpected is what must not appear anywhere in the serial log: the
// console (kernel and systemd messages, the banner) and the journal of the
// serialpass and ssh units that login.exp dumps. It names failures, not
// noise: a boot under TCG prints warnings of its own (ACPI, powernow_k8,
// "fsck not present", ssh's "Permanently added" host key), and those are
// not serialpass's business, so no bare "warning" or "error" is matched.
// What counts as unexpected:
//   - a failure marker of login.exp itself;
//   - any serialpass log line at level WARN or ERROR (only serialpass logs
//     in slog's key=value form), and any banner or issue text other than
//     ready;
//   - any unit failing or timing out as systemd reports it on the console,
//     and the serialpass unit exiting, failing or being restarted;
//   - a crash anywhere: kernel panic, oops, BUG, general protection fault,
//     segfault, a trap, a core dump, a Go panic or fatal error, a seccomp
//     kill, the OOM killer (the unit has MemoryMax=64M).
var unexpected = []struct {
	name, re string
	// unless exempts a matching line that also matches it.
	unless string
}{
	{"a failure marker of login.exp", `VMTEST-FAIL`, ""},
	{"a serialpass log line at WARN or ERROR", `\blevel=(WARN|ERROR)\b`, ""},
	{"a serialpass banner other than ready", `serialpass: (error|rotating|expired|disabled)\b`, ""},
	{"an issue file saying the login is not ready", `serial-console login is NOT ready`, ""},
	{"a unit that failed to start", `Failed to start\b`, ""},
	{"a failed dependency", `Dependency failed for\b`, ""},
	{"a systemd job timeout", `Timed out waiting for\b|start operation timed out`, ""},
	{"the serialpass unit exiting or restarting", `serialpass\.service: (Main process exited|Failed with result|Scheduled restart job|Killing process)`, ""},
	{"a kernel panic", `Kernel panic`, ""},
	{"a kernel oops", `\bOops\b`, ""},
	// A soft lockup is the host being slow (TCG on a busy 2-core machine),
	// not a defect of the guest.
	{"a kernel BUG", `\bBUG: `, `BUG: soft lockup`},
	{"a general protection fault", `general protection fault`, ""},
	{"a segfault", `segfault at\b`, ""},
	{"a process killed by a trap", `\btraps: `, ""},
	{"a core dump", `code=dumped|dumped core|core dumped`, ""},
	{"a Go panic", `\bpanic: |goroutine \d+ \[running\]`, ""},
	{"a Go fatal error", `\bfatal error: `, ""},
	{"a seccomp kill", `audit: type=1326|status=31/SYS`, ""},
	{"the OOM killer", `(?i)out of memory|oom-kill|Killed process`, ""},
}

// checkLog runs the three lists above over the serial log and makes sure
// none of the secrets (by name) appears in it. The issue file is checked
// apart (issueProblems): it needs the secret's VersionId.
func checkLog(t *testing.T, text string, secrets map[string]string) {
	t.Helper()
	for _, c := range expected {
		if !regexp.MustCompile(c.re).MatchString(text) {
			t.Errorf("serial log lacks %s (%s)", c.name, c.re)
		}
	}
	journal, ok := section(text, "M-45", "M-46")
	if !ok {
		t.Errorf("serial log has no journal dump between M-45 and M-46")
	}
	for _, c := range expectedInJournal {
		if !regexp.MustCompile(c.re).MatchString(journal) {
			t.Errorf("journal dump lacks %s (%s)", c.name, c.re)
		}
	}
	for _, line := range unexpectedLines(text) {
		t.Errorf("serial log shows %s: %q", line.what, line.text)
	}
	for name, s := range secrets {
		if strings.Contains(text, s) {
			t.Errorf("%s appears in the serial log", name)
		}
	}
}

// issueProblems checks what agetty printed between login.exp's logout
// (VMTEST-LOGOUT) and the next login prompt: the text of
// /etc/issue.d/serialpass.issue for a ready instance, naming the user and
// the secret (with the first 8 of its AWSCURRENT VersionId), and never the
// password. It returns what is wrong, nothing when all is well.
func issueProblems(text, versionID, password string) []string {
	shown, ok := section(text, "VMTEST-LOGOUT", "login: ")
	if !ok {
		return []string{"no login prompt after VMTEST-LOGOUT in the serial log"}
	}
	version := versionID
	if len(version) > 8 {
		version = version[:8]
	}
	want := `serialpass: log in as ` + regexp.QuoteMeta(user) + `; the password is the AWSCURRENT value of the\s+` +
		`AWS Secrets Manager secret ` + regexp.QuoteMeta(secretName) + ` \(version ` + regexp.QuoteMeta(version) + `\)\.`
	var problems []string
	if !regexp.MustCompile(want).MatchString(shown) {
		problems = append(problems, fmt.Sprintf("the login prompt after logging out is not preceded by the issue text (%s); agetty printed %q", want, shown))
	}
	switch {
	case password == "":
		problems = append(problems, "no password to look for above the login prompt")
	case strings.Contains(shown, password):
		problems = append(problems, "the password appears above the login prompt")
	}
	return problems
}

type badLine struct{ what, text string }

// unexpectedLines returns each line of text that matches an entry of
// unexpected, with the entry's name.
func unexpectedLines(text string) []badLine {
	var bad []badLine
	for _, c := range unexpected {
		re := regexp.MustCompile(c.re)
		for _, line := range strings.Split(text, "\n") {
			if !re.MatchString(line) || (c.unless != "" && strings.Contains(line, c.unless)) {
				continue
			}
			bad = append(bad, badLine{c.name, strings.TrimRight(line, "\r")})
		}
	}
	return bad
}

// section returns the text between the first begin and the next end: the
// markers login.exp waits for, which the echoed commands never contain
// (they hold M-$((40+n)), not M-4n).
func section(text, begin, end string) (string, bool) {
	_, after, ok := strings.Cut(text, begin)
	if !ok {
		return "", false
	}
	between, _, ok := strings.Cut(after, end)
	if !ok {
		return "", false
	}
	return between, true
}

// TestUnexpectedLines checks that the unexpected-output filter catches what
// it names and lets a real boot's benign noise through.
func TestUnexpectedLines(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		bad        bool
	}{
		{"agent warning", `Dec 03 22:09:38 serialvm serialpass[312]: time=2026-12-03T22:09:38Z level=WARN msg="pass failed"`, true},
		{"agent error", `serialpass[312]: time=2026-12-03T22:09:38Z level=ERROR msg=x`, true},
		{"agent info", `serialpass[312]: time=2026-12-03T22:09:38Z level=INFO msg="pass done"`, false},
		{"error banner", `serialpass: error kernel console is not on ttyS0 at 2026-12-03T22:09:38Z`, true},
		{"ready banner", `serialpass: ready user=ec2-serial secret=a version=12345678 at 2026-12-03T22:09:38Z`, false},
		{"failed unit", "[\x1b[0;1;31mFAILED\x1b[0m] Failed to start \x1b[0;1;39mserialpass.service\x1b[0m", true},
		{"unit restart", `systemd[1]: serialpass.service: Scheduled restart job, restart counter is at 1.`, true},
		{"kernel panic", `[    3.1] Kernel panic - not syncing: VFS: Unable to mount root fs`, true},
		{"kernel BUG", `[   12.0] BUG: kernel NULL pointer dereference, address: 0000000000000000`, true},
		{"soft lockup", `[   40.0] watchdog: BUG: soft lockup - CPU#1 stuck for 23s! [swapper/1:0]`, false},
		{"segfault", `[   20.0] sshd[400]: segfault at 0 ip 00007f sp 00007ff error 4 in libc.so.6`, true},
		{"go panic", `serialpass[312]: panic: runtime error: invalid memory address`, true},
		{"cgroup oom", `[   30.0] Memory cgroup out of memory: Killed process 312 (serialpass)`, true},
		{"oom killer", `[   30.0] serialpass invoked oom-killer: gfp_mask=0xcc0`, true},
		{"kernel command line", `[    0.0] Kernel command line: console=ttyS0,115200 root=/dev/vda rw panic=-1`, false},
		{"acpi noise", `[    0.8] acpi PNP0A03:00: fail to add MMCONFIG information`, false},
		{"fsck noise", `Warning: fsck not present, so skipping root file system`, false},
		{"ssh host key", `Warning: Permanently added '[127.0.0.1]:33213' (ED25519) to the list of known hosts.`, false},
		{"ssh refusal", `ec2-serial@127.0.0.1: Permission denied (publickey,password).`, false},
		{"expect failure", `VMTEST-FAIL: no login prompt on ttyS0`, true},
		{"serial line end", "serialpass[312]: time=x level=WARN msg=y\r\r", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := len(unexpectedLines(tc.line)) > 0; got != tc.bad {
				t.Errorf("unexpected(%q) = %v, want %v", tc.line, got, tc.bad)
			}
		})
	}
}

// TestIssueProblems checks the issue check against what a fresh agetty
// prints on ttyS0, and that it catches what it must.
func TestIssueProblems(t *testing.T) {
	const version, pw = "0f1e2d3c-aaaa-bbbb-cccc-000000000000", "Vm-s3cret"
	issue := "serialpass: log in as ec2-serial; the password is the AWSCURRENT value of the\r\r\n" +
		"AWS Secrets Manager secret vm/serial-console (version 0f1e2d3c).\r\r\n\r\r\n"
	logout := "\r\nVMTEST-LOGOUT 1733263778000\r\nexit\r\r\nlogout\r\r\n\r\r\nDebian GNU/Linux 12 serialvm ttyS0\r\r\n\r\r\n"
	for _, tc := range []struct {
		name, text string
		bad        bool
	}{
		{"shown above the prompt", logout + issue + "serialvm login: ", false},
		{"no issue text", logout + "serialvm login: ", true},
		{"only before the logout", issue + logout + "serialvm login: ", true},
		{"only after the prompt", logout + "serialvm login: " + issue, true},
		{"another version", logout + strings.Replace(issue, "0f1e2d3c", "99999999", 1) + "serialvm login: ", true},
		{"another secret", logout + strings.Replace(issue, "vm/serial-console", "vm/other", 1) + "serialvm login: ", true},
		{"another user", logout + strings.Replace(issue, "as ec2-serial", "as root", 1) + "serialvm login: ", true},
		{"the password shown", logout + issue + "password: " + pw + "\r\r\nserialvm login: ", true},
		{"not ready", logout + "serialpass: the serial-console login is NOT ready: x\r\r\nserialvm login: ", true},
		{"no prompt after the logout", logout + issue, true},
		{"no logout", issue + "serialvm login: ", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := issueProblems(tc.text, version, pw); (len(got) > 0) != tc.bad {
				t.Errorf("issueProblems = %q, want bad=%v", got, tc.bad)
			}
		})
	}
}

func TestSection(t *testing.T) {
	dump := "x\r\n\x1b[?2004lM-44\r\r\njournal line\r\r\nM-45\r\r\n"
	for _, tc := range []struct {
		name, text, want string
		ok               bool
	}{
		{"after bracketed paste", "sudo journalctl; echo M-$((40+5))\r\n" + dump, "\r\r\njournal line\r\r\n", true},
		{"no end", "M-44\r\nline\r\n", "", false},
		{"no begin", "line\r\nM-45\r\n", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := section(tc.text, "M-44", "M-45")
			if got != tc.want || ok != tc.ok {
				t.Errorf("section = %q, %v; want %q, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestWallTimeVerdict(t *testing.T) {
	for _, tc := range []struct {
		name   string
		total  time.Duration
		cached bool
		over   bool
	}{
		{"cached within budget", budget - time.Second, true, false},
		{"cached over budget", budget + 2*time.Second, true, true},
		{"first run over budget", 3 * budget, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if msg, over := wallTimeVerdict(tc.total, tc.cached); over != tc.over {
				t.Errorf("wallTimeVerdict(%s, %v) = %q, %v; want over=%v", tc.total, tc.cached, msg, over, tc.over)
			}
		})
	}
}
