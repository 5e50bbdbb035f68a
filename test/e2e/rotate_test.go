package e2e_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/serialpass/serialpass/agent/wtmp"
	"github.com/serialpass/serialpass/internal/testbed"
)

var rotateTags = map[string]string{"serialpass:mode": "rotate", "Name": "web-1"}

func TestRotateEndToEnd(t *testing.T) {
	w := newWorld(t, nil, "i-0e2e0000000000a01", rotateTags)
	code, out, errOut := w.once()
	if code != 0 {
		t.Fatalf("first pass exited %d: %s", code, errOut)
	}
	if w.passwdLine("ec2-serial") == "" {
		t.Fatal("the user was not created")
	}
	v1, _ := w.checkRotateInvariant()
	pw1, _ := w.stagePassword("AWSCURRENT")
	if len(pw1) != 24 {
		t.Errorf("generated password has %d characters, want 24", len(pw1))
	}
	noLeak(t, pw1, map[string]string{"stdout": out, "stderr": errOut, "state": w.read("var/lib/serialpass/state.json")})

	t.Run("second pass costs one DescribeSecret", func(t *testing.T) {
		before := w.shadowSum()
		w.proxy.Reset()
		if code, _, errOut := w.once(); code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		if got := w.proxy.Counts(); got["DescribeSecret"] != 1 || len(got) != 1 {
			t.Errorf("API calls = %v, want one DescribeSecret", got)
		}
		if w.shadowSum() != before {
			t.Error("etc/shadow changed")
		}
	})
	t.Run("serialpass rotate within 10 minutes waits", func(t *testing.T) {
		code, out, errOut := w.run("rotate")
		if code != 0 || !strings.Contains(out, "at the earliest") {
			t.Fatalf("rotate = %d %q %q", code, out, errOut)
		}
		if cur, _ := w.checkRotateInvariant(); cur != v1 {
			t.Error("rotated within 10 minutes")
		}
	})
	t.Run("forced rotation", func(t *testing.T) {
		w.ageState(11 * time.Minute)
		code, out, errOut := w.run("rotate")
		if code != 0 {
			t.Fatalf("rotate exited %d: %s", code, errOut)
		}
		v2, _ := w.checkRotateInvariant()
		pw2, _ := w.stagePassword("AWSCURRENT")
		prev, prevID := w.stagePassword("AWSPREVIOUS")
		if v2 == v1 || prevID != v1 || prev != pw1 || pw2 == pw1 {
			t.Errorf("AWSCURRENT %s (was %s), AWSPREVIOUS %s: want the old version in AWSPREVIOUS", v2, v1, prevID)
		}
		noLeak(t, pw2, map[string]string{"stdout": out, "stderr": errOut, "state": w.read("var/lib/serialpass/state.json")})
	})
}

func TestRotateRefusedCalls(t *testing.T) {
	moto := testbed.StartMoto(t)
	t.Run("PutSecretValue refused: nothing changes locally", func(t *testing.T) {
		w := newWorld(t, moto, "i-0e2e0000000000b01", rotateTags)
		if code, _, errOut := w.once(); code != 0 {
			t.Fatalf("first pass: %s", errOut)
		}
		v1, _ := w.checkRotateInvariant()
		w.ageState(11 * time.Minute)
		before := w.shadowSum()
		w.proxy.Throttle("PutSecretValue", 100)
		if code, _, errOut := w.run("rotate"); code != 1 || !strings.Contains(errOut, "PutSecretValue") {
			t.Fatalf("rotate = %d, %q: want a failure naming PutSecretValue", code, errOut)
		}
		if w.shadowSum() != before {
			t.Error("etc/shadow changed")
		}
		if s := w.moto.InstanceTags(t, w.instance)["serialpass:status"]; s != "rotating" {
			t.Errorf("status = %q, want rotating", s)
		}
		w.proxy.Reset()
		if code, _, errOut := w.once(); code != 0 {
			t.Fatalf("next pass: %s", errOut)
		}
		if v2, _ := w.checkRotateInvariant(); v2 == v1 {
			t.Error("the requested rotation was not done on the next pass")
		}
	})
	t.Run("UpdateSecretVersionStage refused: rotating, resolved next pass", func(t *testing.T) {
		w := newWorld(t, moto, "i-0e2e0000000000b02", rotateTags)
		if code, _, errOut := w.once(); code != 0 {
			t.Fatalf("first pass: %s", errOut)
		}
		w.ageState(11 * time.Minute)
		w.proxy.Throttle("UpdateSecretVersionStage", 100)
		if code, _, _ := w.run("rotate"); code != 1 {
			t.Fatalf("rotate exited %d, want 1", code)
		}
		if s := w.moto.InstanceTags(t, w.instance)["serialpass:status"]; s != "rotating" {
			t.Errorf("status = %q, want rotating", s)
		}
		pending, pendingID := w.stagePassword("AWSPENDING")
		if !testbed.VerifyPassword(t, testbed.ShadowHash(t, w.root, "ec2-serial"), pending) {
			t.Error("the local hash does not verify AWSPENDING while rotating")
		}
		w.proxy.Reset()
		if code, _, errOut := w.once(); code != 0 {
			t.Fatalf("next pass: %s", errOut)
		}
		if cur, _ := w.checkRotateInvariant(); cur != pendingID {
			t.Errorf("AWSCURRENT = %s, want the pending %s", cur, pendingID)
		}
		if n := w.proxy.Count("PutSecretValue"); n != 0 {
			t.Errorf("PutSecretValue sent %d times while resolving", n)
		}
	})
}

func TestRotateAfterUse(t *testing.T) {
	moto := testbed.StartMoto(t)
	// Each way a system records a console login: login(1)'s wtmp records,
	// and Debian 13's pam_wtmpdb, which writes wtmpdb's database only.
	for _, tc := range []struct {
		name          string
		instance      string
		login, logout func(w *world, at time.Time)
	}{
		{"wtmp", "i-0e2e0000000000d01",
			func(w *world, at time.Time) {
				w.appendWtmp(wtmp.Record{Type: wtmp.UserProcess, PID: 700, Line: "ttyS0", ID: "S0", User: "ec2-serial", Time: at})
			},
			func(w *world, at time.Time) {
				w.appendWtmp(wtmp.Record{Type: wtmp.DeadProcess, PID: 700, Line: "ttyS0", ID: "S0", Time: at})
			}},
		{"wtmpdb", "i-0e2e0000000000d02",
			func(w *world, at time.Time) {
				w.wtmpdb(fmt.Sprintf(`INSERT INTO wtmp (Type,User,Login,TTY,RemoteHost,Service) VALUES(3,'ec2-serial',%d,'ttyS0','','login');`, at.UnixMicro()))
			},
			func(w *world, at time.Time) {
				w.wtmpdb(fmt.Sprintf(`UPDATE wtmp SET Logout = %d WHERE ID = (SELECT max(ID) FROM wtmp WHERE TTY = 'ttyS0');`, at.UnixMicro()))
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, moto, tc.instance, rotateTags)
			cfg := w.config("rotate_after_use: 2s\n")
			if code, _, errOut := w.once("--config", cfg); code != 0 {
				t.Fatalf("first pass: %s", errOut)
			}
			v1, _ := w.checkRotateInvariant()
			w.ageState(11 * time.Minute)
			login := time.Now().Add(-5 * time.Minute).Truncate(time.Second).UTC()
			tc.login(w, login)

			if code, _, errOut := w.once("--config", cfg); code != 0 {
				t.Fatalf("pass with an open session: %s", errOut)
			}
			if cur, _ := w.checkRotateInvariant(); cur != v1 {
				t.Fatal("rotated while the user is still logged in")
			}
			if got := w.moto.InstanceTags(t, w.instance)["serialpass:status:last-login"]; got != login.Format(time.RFC3339) {
				t.Errorf("last-login tag = %q, want %s", got, login.Format(time.RFC3339))
			}
			tc.logout(w, time.Now().UTC())
			if code, _, errOut := w.once("--config", cfg); code != 0 {
				t.Fatalf("pass in the grace delay: %s", errOut)
			}
			if cur, _ := w.checkRotateInvariant(); cur != v1 {
				t.Fatal("rotated before the grace delay")
			}
			time.Sleep(2500 * time.Millisecond)
			if code, _, errOut := w.once("--config", cfg); code != 0 {
				t.Fatalf("pass after the grace delay: %s", errOut)
			}
			if cur, _ := w.checkRotateInvariant(); cur == v1 {
				t.Error("not rotated after the session ended and the grace passed")
			}
		})
	}
}

func TestEnableUntilEndToEnd(t *testing.T) {
	moto := testbed.StartMoto(t)
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	locked := func(w *world) bool { return strings.HasPrefix(testbed.ShadowHash(t, w.root, "ec2-serial"), "!") }
	t.Run("rotate mode", func(t *testing.T) {
		w := newWorld(t, moto, "i-0e2e0000000000e01", rotateTags)
		if code, _, errOut := w.once(); code != 0 {
			t.Fatalf("first pass: %s", errOut)
		}
		v1, _ := w.checkRotateInvariant()
		w.ageState(11 * time.Minute)
		w.imds.SetTag("serialpass:enable-until", past)
		if code, out, errOut := w.once(); code != 0 || !strings.Contains(out, "expired") {
			t.Fatalf("expired pass = %d %q %q", code, out, errOut)
		}
		if !locked(w) || w.moto.InstanceTags(t, w.instance)["serialpass:status"] != "expired" {
			t.Fatalf("locked %v, tags %v", locked(w), w.moto.InstanceTags(t, w.instance))
		}
		w.imds.SetTag("serialpass:enable-until", future)
		if code, _, errOut := w.once(); code != 0 {
			t.Fatalf("re-enabled pass: %s", errOut)
		}
		if cur, _ := w.checkRotateInvariant(); cur == v1 || locked(w) {
			t.Errorf("want a fresh password, unlocked (version %s, was %s)", cur, v1)
		}
	})
	t.Run("pull mode", func(t *testing.T) {
		w := newWorld(t, moto, "i-0e2e0000000000e02", map[string]string{"serialpass:secret": "expiry/pull", "serialpass:enable-until": past})
		moto.CreateSecret(t, "expiry/pull", `{"username":"ec2-serial","password":"Pull-Passw0rd-1"}`)
		if code, out, _ := w.once(); code != 0 || !strings.Contains(out, "expired") || w.passwdLine("ec2-serial") != "" {
			t.Fatalf("expired before the user exists: %d %q", code, out)
		}
		w.imds.DeleteTag("serialpass:enable-until")
		if code, _, errOut := w.once(); code != 0 {
			t.Fatalf("pass: %s", errOut)
		}
		w.imds.SetTag("serialpass:enable-until", past)
		if code, _, _ := w.once(); code != 0 || !locked(w) {
			t.Fatal("not locked after enable-until")
		}
		w.imds.SetTag("serialpass:enable-until", future)
		if code, _, errOut := w.once(); code != 0 {
			t.Fatalf("pass: %s", errOut)
		}
		if !testbed.VerifyPassword(t, testbed.ShadowHash(t, w.root, "ec2-serial"), "Pull-Passw0rd-1") {
			t.Error("not unlocked with the current password")
		}
	})
}

// TestRotateIntoEmptySecret: rotate mode fills a secret that an operator
// created with no version (Terraform's aws_secretsmanager_secret without a
// secret_version). Its first version is AWSCURRENT at once; the pass must
// not fail moving a label that is already there.
func TestRotateIntoEmptySecret(t *testing.T) {
	const id = "i-0e2e0000000000a09"
	w := newWorld(t, nil, id, rotateTags)
	w.moto.CreateEmptySecret(t, "serialpass/"+id)
	if code, _, errOut := w.once(); code != 0 {
		t.Fatalf("first pass exited %d: %s", code, errOut)
	}
	v, _ := w.checkRotateInvariant()
	if got := w.moto.SecretStages(t, "serialpass/"+id); len(got) != 1 || strings.Join(got[v], ",") != "AWSCURRENT" {
		t.Errorf("stages = %v, want one version holding only AWSCURRENT", got)
	}
	if n := w.proxy.Count("CreateSecret"); n != 0 {
		t.Errorf("%d CreateSecret calls on an existing secret", n)
	}
}
