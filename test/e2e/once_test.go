package e2e_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/serialpass/serialpass/internal/testbed"
)

func TestOnceEndToEnd(t *testing.T) {
	const pw1, pw2 = "Br3ak-Glass-0ne", "Br3ak-Glass-Tw0"
	for _, tc := range []struct {
		name   string
		opts   []testbed.RootOption
		scheme string
	}{
		{"sha512 root", nil, "$6$"},
		{"yescrypt root", []testbed.RootOption{testbed.WithEncryptMethod("YESCRYPT")}, "$y$"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, nil, instanceID, map[string]string{"serialpass:secret": "fleet/console", "Name": "web-1"}, tc.opts...)
			_, v1 := w.moto.CreateSecret(t, "fleet/console", `{"username":"ec2-serial","password":"`+pw1+`"}`)

			code, out, errOut := w.once()
			if code != 0 {
				t.Fatalf("once exited %d: %s", code, errOut)
			}
			if line := w.passwdLine("ec2-serial"); !strings.HasSuffix(line, ":/home/ec2-serial:/bin/bash") {
				t.Errorf("passwd line = %q", line)
			}
			if !strings.Contains(w.read("etc/group"), "sudo:x:27:ec2-serial") {
				t.Errorf("ec2-serial is not in sudo:\n%s", w.read("etc/group"))
			}
			hash := testbed.ShadowHash(t, w.root, "ec2-serial")
			if !strings.HasPrefix(hash, tc.scheme) || !testbed.VerifyPassword(t, hash, pw1) {
				t.Fatalf("hash %.8s… does not verify the password (want scheme %s)", hash, tc.scheme)
			}
			tags := w.moto.InstanceTags(t, instanceID)
			if tags["serialpass:status"] != "ready" || tags["serialpass:status:version"] != v1 || tags["serialpass:status:time"] == "" {
				t.Errorf("tags = %v", tags)
			}
			state := w.read("var/lib/serialpass/state.json")
			if fi, _ := os.Stat(filepath.Join(w.root, "var/lib/serialpass/state.json")); fi.Mode().Perm() != 0o600 {
				t.Errorf("state mode = %v", fi.Mode())
			}
			// The console side: login only on ttyS0, the banner, the issue file.
			access, banner, issue := w.read("etc/security/access.conf"), w.read("var/log/serialpass/console.log"), w.read("etc/issue.d/serialpass.issue")
			if !strings.Contains(access, "ec2-serial") || !strings.Contains(access, "ttyS0") {
				t.Errorf("access.conf has no rule for ec2-serial on ttyS0:\n%s", access)
			}
			if !strings.Contains(w.read("etc/pam.d/login"), "\naccount") {
				t.Errorf("pam_access is not enabled in etc/pam.d/login")
			}
			if !strings.Contains(banner, "serialpass: ready user=ec2-serial secret=fleet/console version="+v1[:8]) {
				t.Errorf("banner = %q", banner)
			}
			if !strings.Contains(issue, "ec2-serial") || !strings.Contains(issue, "fleet/console") {
				t.Errorf("issue file = %q", issue)
			}
			tagText, _ := json.Marshal(tags)
			texts := map[string]string{"stdout": out, "stderr": errOut, "state": state, "tags": string(tagText), "banner": banner, "issue": issue}
			noLeak(t, pw1, texts)
			noLeak(t, hash, texts)

			t.Run("second run changes nothing", func(t *testing.T) {
				before := w.shadowSum()
				w.proxy.Reset()
				code, _, errOut := w.once()
				if code != 0 {
					t.Fatalf("exit %d: %s", code, errOut)
				}
				if w.shadowSum() != before {
					t.Error("etc/shadow changed")
				}
				if got := w.proxy.Counts(); got["GetSecretValue"] != 1 || got["CreateTags"] != 0 || len(got) != 1 {
					t.Errorf("API calls = %v, want one GetSecretValue", got)
				}
			})
			t.Run("new AWSCURRENT is applied", func(t *testing.T) {
				v2 := w.moto.PutSecret(t, "fleet/console", pw2)
				if code, _, errOut := w.once(); code != 0 {
					t.Fatalf("exit %d: %s", code, errOut)
				}
				if !testbed.VerifyPassword(t, testbed.ShadowHash(t, w.root, "ec2-serial"), pw2) {
					t.Error("new password does not verify")
				}
				if got := w.moto.InstanceTags(t, instanceID)["serialpass:status:version"]; got != v2 {
					t.Errorf("version tag = %q, want %q", got, v2)
				}
			})
		})
	}
}

func TestOnceRefusesBadInput(t *testing.T) {
	moto := testbed.StartMoto(t)
	cases := []struct {
		name   string
		tags   map[string]string
		secret string // "" = do not create it
		want   string
	}{
		{"password with a newline", nil, "pw\nroot:x", "newline"},
		{"empty password", nil, `{"password":""}`, "password is empty"},
		{"2 KB password", nil, strings.Repeat("p", 2048), "more than 1024"},
		{"user root", map[string]string{"serialpass:user": "root"}, "Passw0rd-root", "allow_root"},
		{"user daemon", map[string]string{"serialpass:user": "daemon"}, "Passw0rd-daemon", "system account"},
		{"user Bad Name", map[string]string{"serialpass:user": "Bad Name"}, "Passw0rd-bad", "not a valid name"},
		{"user a;b", map[string]string{"serialpass:user": "a;b"}, "Passw0rd-semi", "not a valid name"},
		{"user of 40 characters", map[string]string{"serialpass:user": strings.Repeat("u", 40)}, "Passw0rd-long", "not a valid name"},
		{"JSON username differs", nil, `{"username":"alice","password":"Passw0rd-alice"}`, `for user "alice"`},
		{"group off the allow-list", map[string]string{"serialpass:groups": "adm"}, "Passw0rd-adm", "not on the allow-list"},
		{"secret does not exist", nil, "", "not found"},
		{"malformed JSON", nil, `{"password":"Passw0rd-json"`, "not a valid JSON object"},
		// An unknown tag is a warning in the log; the failure is still
		// one line on stderr.
		{"unknown tag and a bad secret", map[string]string{"serialpass:colour": "blue"}, "pw\nroot:x", "newline"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			name := "bad/" + strings.ReplaceAll(tc.name, " ", "-")
			tags := map[string]string{"serialpass:secret": name}
			for k, v := range tc.tags {
				tags[k] = v
			}
			w := newWorld(t, moto, fmt.Sprintf("i-0bad%012x", i), tags)
			if tc.secret != "" {
				moto.CreateSecret(t, name, tc.secret)
			}
			before := w.shadowSum()
			code, out, errOut := w.once()
			if code != 1 {
				t.Fatalf("exit %d, want 1 (stdout %q, stderr %q)", code, out, errOut)
			}
			if lines := strings.Count(strings.TrimSpace(errOut), "\n"); lines != 0 || !strings.Contains(errOut, tc.want) {
				t.Errorf("stderr %q: want one line mentioning %q", errOut, tc.want)
			}
			if w.shadowSum() != before {
				t.Error("etc/shadow changed")
			}
			if w.passwdLine("ec2-serial") != "" {
				t.Error("a user was created")
			}
			tags2 := moto.InstanceTags(t, w.instance)
			if tags2["serialpass:status"] != "error" || !strings.Contains(tags2["serialpass:status:reason"], tc.want) {
				t.Errorf("tags = %v", tags2)
			}
			if len(tc.secret) > 8 {
				tagText, _ := json.Marshal(tags2)
				noLeak(t, strings.TrimSuffix(tc.secret, `"`), map[string]string{"stderr": errOut, "stdout": out, "tags": string(tagText)})
			}
		})
	}
}

// TestOnceKernelConsoleElsewhere: a password is not yet a console. With the
// kernel console off ttyS0 the pass reports why, as an error.
func TestOnceKernelConsoleElsewhere(t *testing.T) {
	w := newWorld(t, nil, instanceID, map[string]string{"serialpass:secret": "fleet/console"})
	w.moto.CreateSecret(t, "fleet/console", "Br3ak-Glass-0ne")
	grub := filepath.Join(w.root, "etc/default/grub")
	if err := os.WriteFile(grub, []byte("GRUB_CMDLINE_LINUX=\"quiet\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := w.once()
	if code != 1 || !strings.Contains(errOut, "kernel console is not on ttyS0") {
		t.Fatalf("exit %d, stderr %q: want 1 and the kernel console reason", code, errOut)
	}
	tags := w.moto.InstanceTags(t, instanceID)
	if tags["serialpass:status"] != "error" || !strings.Contains(tags["serialpass:status:reason"], "kernel console is not on ttyS0") {
		t.Errorf("tags = %v", tags)
	}
	// fix_console: still not ready (the running kernel keeps its console
	// until a reboot, and the reason says so), and console=ttyS0 goes where
	// grub-mkconfig reads it: a marked block at the end of
	// /etc/default/grub, or Debian's grub.d drop-in once that directory
	// exists. Under --root the GRUB defaults are the image's kernel
	// command line, so each step starts from the original file.
	steps := []struct {
		name      string
		grubD     bool
		wantBlock bool
	}{
		{"no grub.d: a block in /etc/default/grub", false, true},
		{"grub.d: a drop-in instead of the block", true, false},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			if err := os.WriteFile(grub, []byte("GRUB_CMDLINE_LINUX=\"quiet\"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if step.grubD {
				if err := os.MkdirAll(filepath.Join(w.root, "etc/default/grub.d"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			code, _, errOut := w.once("--config", w.config("fix_console: true\n"))
			if code != 1 || !strings.Contains(errOut, "reboot") {
				t.Fatalf("exit %d, stderr %q: want 1 and a word about the reboot", code, errOut)
			}
			main, err := os.ReadFile(grub)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(main), "GRUB_CMDLINE_LINUX=\"quiet\"\n") {
				t.Errorf("/etc/default/grub lost its own line:\n%s", main)
			}
			if got := strings.Contains(string(main), "console=ttyS0"); got != step.wantBlock {
				t.Errorf("/etc/default/grub has console=ttyS0: %v, want %v:\n%s", got, step.wantBlock, main)
			}
			dropIns, _ := filepath.Glob(filepath.Join(w.root, "etc/default/grub.d/*.cfg"))
			switch {
			case step.wantBlock && len(dropIns) != 0:
				t.Errorf("GRUB drop-ins = %v, want none", dropIns)
			case !step.wantBlock && len(dropIns) != 1:
				t.Fatalf("GRUB drop-ins = %v, want one", dropIns)
			case !step.wantBlock:
				if b, _ := os.ReadFile(dropIns[0]); !strings.Contains(string(b), "console=ttyS0") {
					t.Errorf("drop-in %s = %q", dropIns[0], b)
				}
			}
			// Now the image boots with the serial console: ready.
			if code, _, errOut := w.once("--config", w.config("fix_console: true\n")); code != 0 {
				t.Errorf("pass after the fix: exit %d, stderr %q, want 0", code, errOut)
			}
		})
	}
}
