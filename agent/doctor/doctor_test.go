package doctor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/serialpass/serialpass/agent"
	"github.com/serialpass/serialpass/agent/console"
)

type fakeIMDS struct {
	down     bool
	v1Status int
	paths    map[string]string
}

func (f *fakeIMDS) Token(context.Context) error {
	if f.down {
		return errors.New("dial tcp 169.254.169.254:80: connect: no route to host")
	}
	return nil
}
func (f *fakeIMDS) Tokenless(context.Context) (int, error) { return f.v1Status, nil }
func (f *fakeIMDS) Get(_ context.Context, p string) (string, error) {
	v, ok := f.paths[p]
	if !ok {
		return "", fmt.Errorf("%s: %w", p, ErrNotFound)
	}
	return v, nil
}

// fakeSecrets records each call as "Op id" and answers with the errors
// set; value is the SecretString GetSecret returns (default a valid one).
type fakeSecrets struct {
	describeErr, getErr error
	value               string
	versions            map[string][]string
	calls               []string
}

func (f *fakeSecrets) DescribeSecret(_ context.Context, id string) (agent.SecretInfo, error) {
	f.calls = append(f.calls, "DescribeSecret "+id)
	if f.describeErr != nil {
		return agent.SecretInfo{}, f.describeErr
	}
	return agent.SecretInfo{Name: id, Versions: f.versions}, nil
}
func (f *fakeSecrets) GetSecret(_ context.Context, id, _ string) (agent.SecretVersion, error) {
	f.calls = append(f.calls, "GetSecretValue "+id)
	v := f.value
	if v == "" {
		v = `{"username":"ec2-serial","password":"never-shown-pw"}`
	}
	return agent.SecretVersion{Value: agent.NewPassword(v), VersionID: "0123456789abcdef"}, f.getErr
}

type fakeEC2 struct {
	tagsErr, scaErr error
	sca             bool
}

func (f fakeEC2) CheckCreateTags(context.Context, string) error { return f.tagsErr }
func (f fakeEC2) SerialConsoleAccess(context.Context) (bool, bool, error) {
	return f.sca, f.scaErr == nil, f.scaErr
}

type fakeHost struct {
	kernel  bool
	getty   console.GettyState
	account console.AccountState
	only    console.ConsoleOnlyState
}

func (f fakeHost) KernelConsole(string) (bool, string, error) { return f.kernel, "/proc/cmdline", nil }
func (f fakeHost) Getty(string) console.GettyState            { return f.getty }
func (f fakeHost) Account(string, time.Time) (console.AccountState, error) {
	return f.account, nil
}
func (f fakeHost) ConsoleOnlyState() (console.ConsoleOnlyState, error) { return f.only, nil }

func healthy() *Doctor {
	return &Doctor{
		Config: agent.DefaultConfig(),
		IMDS: &fakeIMDS{v1Status: 401, paths: map[string]string{
			"instance-id": "i-0123456789abcdef0", "instance-type": "m7i.large",
			"tags/instance": "Name\nserialpass:secret", "tags/instance/serialpass:secret": "prod/serial",
			"iam/security-credentials/": "serialpass-role",
		}},
		Secrets: &fakeSecrets{},
		EC2:     fakeEC2{sca: true},
		Host: fakeHost{kernel: true, getty: console.GettyState{Unit: "serial-getty@ttyS0.service"},
			account: console.AccountState{Exists: true},
			only:    console.ConsoleOnlyState{AccessBlock: true, AccessUser: "ec2-serial", PAMAccess: true, SSHDropIn: true, SSHIncluded: true, SSHInstalled: true}},
	}
}

func levels(checks []Check) map[string]Level {
	m := map[string]Level{}
	for _, c := range checks {
		m[c.Name] = c.Level
	}
	return m
}

func TestDoctor(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(d *Doctor)
		want   map[string]Level
	}{
		{"all good", func(*Doctor) {}, nil},
		{"not on EC2", func(d *Doctor) { d.IMDS = &fakeIMDS{down: true} }, map[string]Level{
			"IMDS reachable": Fail, "IMDSv2 enforced": Fail, "tags in metadata": Fail, "instance role": Fail,
			"instance type": Fail, "secret described": "", "secret readable": Fail, "CreateTags allowed": Fail}},
		{"IMDSv1 open", func(d *Doctor) { d.IMDS.(*fakeIMDS).v1Status = 200 }, map[string]Level{"IMDSv2 enforced": Warn}},
		{"tags off", func(d *Doctor) { delete(d.IMDS.(*fakeIMDS).paths, "tags/instance") },
			map[string]Level{"tags in metadata": Fail, "secret described": "", "secret readable": Warn}},
		{"empty tag listing", func(d *Doctor) { d.IMDS.(*fakeIMDS).paths["tags/instance"] = "" },
			map[string]Level{"tags in metadata": Fail, "secret described": "", "secret readable": Warn}},
		{"no secret tag", func(d *Doctor) { d.IMDS.(*fakeIMDS).paths["tags/instance"] = "Name" },
			map[string]Level{"tags in metadata": Warn, "secret described": "", "secret readable": Warn}},
		{"bad mode tag", func(d *Doctor) { setTag(d, "serialpass:mode", "laps") },
			map[string]Level{"tags in metadata": Fail, "secret described": "", "secret readable": Warn}},
		{"no role", func(d *Doctor) { delete(d.IMDS.(*fakeIMDS).paths, "iam/security-credentials/") }, map[string]Level{"instance role": Fail}},
		{"xen", func(d *Doctor) { d.IMDS.(*fakeIMDS).paths["instance-type"] = "t2.micro" }, map[string]Level{"instance type": Fail}},
		{"metal", func(d *Doctor) { d.IMDS.(*fakeIMDS).paths["instance-type"] = "i3.metal" }, map[string]Level{"instance type": Pass}},
		{"secret denied", func(d *Doctor) { d.Secrets = &fakeSecrets{getErr: fmt.Errorf("x: %w", agent.ErrAccessDenied)} }, map[string]Level{"secret readable": Fail}},
		{"secret missing", func(d *Doctor) {
			d.Secrets = &fakeSecrets{describeErr: agent.ErrSecretNotFound, getErr: agent.ErrSecretNotFound}
		},
			map[string]Level{"secret described": Fail, "secret readable": Fail}},
		{"secret for another user", func(d *Doctor) { d.Secrets = &fakeSecrets{value: `{"username":"bob","password":"never-shown-pw"}`} },
			map[string]Level{"secret readable": Fail}},
		{"secret with a newline", func(d *Doctor) { d.Secrets = &fakeSecrets{value: "never-shown-pw\nroot:x"} },
			map[string]Level{"secret readable": Fail}},
		{"CreateTags denied", func(d *Doctor) { d.EC2 = fakeEC2{sca: true, tagsErr: agent.ErrAccessDenied} }, map[string]Level{"CreateTags allowed": Fail}},
		{"serial console unknown", func(d *Doctor) { d.EC2 = fakeEC2{scaErr: errors.New("HTTP 500")} }, map[string]Level{"serial console access": Warn}},
		{"serial console off", func(d *Doctor) { d.EC2 = fakeEC2{} }, map[string]Level{"serial console access": Fail}},
		{"kernel console elsewhere", func(d *Doctor) { h := d.Host.(fakeHost); h.kernel = false; d.Host = h }, map[string]Level{"kernel console": Fail, "serial getty": Fail}},
		{"getty masked", func(d *Doctor) { h := d.Host.(fakeHost); h.getty.Masked = true; d.Host = h }, map[string]Level{"serial getty": Fail}},
		{"user locked", func(d *Doctor) { h := d.Host.(fakeHost); h.account.Problem = "is locked"; d.Host = h }, map[string]Level{"managed user": Fail}},
		{"no sshd include", func(d *Doctor) { h := d.Host.(fakeHost); h.only.SSHIncluded = false; d.Host = h }, map[string]Level{"sshd drop-in": Fail}},
		{"no AWS", func(d *Doctor) { d.Secrets, d.EC2, d.NoAWS = nil, nil, errors.New("no credentials") }, map[string]Level{
			"secret described": "", "secret readable": Fail, "CreateTags allowed": Fail, "serial console access": Warn}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := healthy()
			tt.mutate(d)
			checks := d.Run(context.Background())
			got := levels(checks)
			for _, name := range []string{"IMDS reachable", "IMDSv2 enforced", "tags in metadata", "instance role", "instance type",
				"secret described", "secret readable", "rotate permissions", "CreateTags allowed", "serial console access", "kernel console", "serial getty",
				"managed user", "pam_access", "sshd drop-in"} {
				want, ok := tt.want[name]
				if !ok && name != "rotate permissions" {
					want = Pass // "": the check must be absent
				}
				if got[name] != want {
					t.Errorf("%s = %q, want %q", name, got[name], want)
				}
			}
			if Failed(checks) != (len(tt.want) > 0 && containsFail(tt.want)) {
				t.Errorf("Failed = %v", Failed(checks))
			}
			var buf bytes.Buffer
			_ = WriteTable(&buf, checks)
			_ = WriteJSON(&buf, checks)
			if strings.Contains(buf.String(), "never-shown-pw") {
				t.Error("the secret value was printed")
			}
		})
	}
}

// setTag sets one instance tag in the fake metadata, listing it.
func setTag(d *Doctor, key, value string) {
	m := d.IMDS.(*fakeIMDS)
	if _, ok := m.paths["tags/instance/"+key]; !ok {
		m.paths["tags/instance"] += "\n" + key
	}
	m.paths["tags/instance/"+key] = value
}

func containsFail(m map[string]Level) bool {
	for _, l := range m {
		if l == Fail {
			return true
		}
	}
	return false
}

func TestRender(t *testing.T) {
	checks := []Check{
		{Name: "IMDS reachable", Level: Pass, Why: "ok"},
		{Name: "tags", Level: Warn, Why: "hmm", Fix: "do this"},
		{Name: "kernel console", Level: Fail, Why: "no"},
	}
	var table bytes.Buffer
	if err := WriteTable(&table, checks); err != nil {
		t.Fatal(err)
	}
	want := "✓ IMDS reachable  ok\n! tags            hmm → do this\n✗ kernel console  no\n"
	if table.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", table.String(), want)
	}
	var js bytes.Buffer
	if err := WriteJSON(&js, checks); err != nil {
		t.Fatal(err)
	}
	var back []map[string]string
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if len(back) != 3 || back[1]["status"] != "warn" || back[1]["fix"] != "do this" || back[0]["name"] != "IMDS reachable" {
		t.Errorf("json = %s", js.String())
	}
}

func TestHTTPMetadata(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPut && r.URL.Path == "/latest/api/token":
			fmt.Fprint(w, "TOKEN")
		case r.Header.Get("X-aws-ec2-metadata-token") != "TOKEN":
			w.WriteHeader(http.StatusUnauthorized)
		case r.URL.Path == "/latest/meta-data/instance-type":
			fmt.Fprint(w, "m7i.large")
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	m := &HTTPMetadata{Endpoint: srv.URL, Client: srv.Client()}
	ctx := context.Background()
	if err := m.Token(ctx); err != nil {
		t.Fatal(err)
	}
	if code, err := m.Tokenless(ctx); err != nil || code != 401 {
		t.Errorf("tokenless = %d, %v", code, err)
	}
	if v, err := m.Get(ctx, "instance-type"); err != nil || v != "m7i.large" {
		t.Errorf("instance-type = %q, %v", v, err)
	}
	if _, err := m.Get(ctx, "tags/instance"); !errors.Is(err, ErrNotFound) {
		t.Errorf("tags = %v, want ErrNotFound", err)
	}
}
