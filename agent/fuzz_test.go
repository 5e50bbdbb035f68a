package agent

// Fuzz targets for the parsers that read input from outside the agent: tags
// (anyone who may tag the instance), the secret, the config file and the
// state file. Their seeds run in every go test; run one for real with
//
//	go test -run='^$' -fuzz=FuzzParseSecret -fuzztime=10m ./agent/
//
// and commit what it finds under testdata/fuzz/FuzzParseSecret.

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func FuzzParseTags(f *testing.F) {
	seeds := []struct{ prefix, k1, v1, k2, v2, k3, v3 string }{
		{"", "serialpass:secret", "prod/console", "serialpass:user", "ops", "serialpass:groups", "sudo,adm"},
		{"", "serialpass:secret", " s ", "serialpass:user", "Bad Name", "Name", "web-1"},
		{"", "serialpass:secret", "", "serialpass:groups", " , ,", "serialpass:status:reason", "x"},
		{"", "serialpass:secretx", "s", "serialpass:", "", "serialpass:status", "ready"},
		{"x:", "x:secret", "a", "x:user", "root", "serialpass:secret", "b"},
		{"", "serialpass:secret", "s", "serialpass:user", strings.Repeat("u", 40), "serialpass:user2", "\x00"},
		{"", "serialpass:secret", "\t\n", "serialpass:user", "a\xffb", "serialpass:groups", "sudo,sudo"},
	}
	for _, s := range seeds {
		f.Add(s.prefix, s.k1, s.v1, s.k2, s.v2, s.k3, s.v3)
	}
	f.Fuzz(func(t *testing.T, prefix, k1, v1, k2, v2, k3, v3 string) {
		cfg := DefaultConfig()
		if prefix != "" {
			cfg.TagPrefix = prefix
		}
		tags := map[string]string{k1: v1, k2: v2, k3: v3}
		s, err := ParseTags(tags, cfg)
		if s.Secret != strings.TrimSpace(s.Secret) || s.User != strings.TrimSpace(s.User) {
			t.Fatalf("untrimmed settings %+v", s)
		}
		if !sort.StringsAreSorted(s.Unknown) {
			t.Fatalf("unknown keys not sorted: %q", s.Unknown)
		}
		for _, k := range s.Unknown {
			if _, ok := tags[k]; !ok || !strings.HasPrefix(k, cfg.TagPrefix) {
				t.Fatalf("unknown key %q was not a prefixed tag", k)
			}
		}
		for _, g := range s.Groups {
			if g == "" || g != strings.TrimSpace(g) || strings.Contains(g, ",") {
				t.Fatalf("group %q is not one trimmed list item", g)
			}
		}
		if err == nil && s.Enabled() {
			if verr := ValidUserName(s.User); verr != nil {
				t.Fatalf("accepted user %q: %v", s.User, verr)
			}
		}
		if !s.Enabled() && err != nil {
			t.Fatalf("disabled settings with an error: %v", err)
		}
	})
}

// secretVocabulary is every fixed text ParseSecret's errors are made of,
// taken from the function itself: a "password" that is a substring of these
// is not evidence of a leak.
func secretVocabulary(user string) string {
	var b strings.Builder
	for _, in := range []string{"", "{", "{}", `{"username":"x","password":"p"}`, "a\nb", "\xff", strings.Repeat("p", MaxPasswordLen+1)} {
		if _, err := ParseSecret(NewPassword(in), user); err != nil {
			b.WriteString(err.Error() + "\n")
		}
	}
	return b.String() + user
}

func FuzzParseSecret(f *testing.F) {
	seeds := []struct{ raw, user string }{
		{"correct horse battery", "ec2-serial"},
		{`{"username":"ec2-serial","password":"Br3ak-Glass"}`, "ec2-serial"},
		{`{"password":"Br3ak-Glass"}`, "ops"},
		{`{"username":"alice","password":"Br3ak-Glass"}`, "ec2-serial"},
		{`{"password":"Br3ak-Glass"`, "ec2-serial"},
		{`{"password":"pw\nroot:x"}`, "ec2-serial"},
		{"pw\nroot:x", "ec2-serial"},
		{`{"password":""}`, "ec2-serial"},
		{`{"password":"a"} {"password":"b"}`, "ec2-serial"},
		{`{"password":12345678}`, "ec2-serial"},
		{"  {  ", "ec2-serial"},
		{"\xff\xfepassword", "ec2-serial"},
		{`{"password":"\u0000secret-nul"}`, "ec2-serial"},
		{strings.Repeat("x", MaxPasswordLen+1), "ec2-serial"},
	}
	for _, s := range seeds {
		f.Add(s.raw, s.user)
	}
	f.Fuzz(func(t *testing.T, raw, user string) {
		pw, err := ParseSecret(NewPassword(raw), user)
		if err == nil {
			if cerr := CheckPassword(pw); cerr != nil {
				t.Fatalf("accepted a password CheckPassword refuses: %v", cerr)
			}
			return
		}
		if !pw.IsZero() {
			t.Fatal("error with a non-empty password")
		}
		// The input's password: the JSON field when there is one, else the
		// whole string.
		secret, username := raw, ""
		if trimmed := strings.TrimSpace(raw); strings.HasPrefix(trimmed, "{") {
			var m map[string]any
			if json.Unmarshal([]byte(trimmed), &m) == nil {
				p, _ := m["password"].(string)
				username, _ = m["username"].(string)
				secret = p
			}
		}
		msg := err.Error()
		if len(secret) >= 4 && strings.Contains(msg, secret) &&
			!strings.Contains(secretVocabulary(user)+"\n"+username, secret) {
			t.Fatalf("error %q quotes the password", msg)
		}
		if strings.ContainsAny(msg, "\n\r\x00") && !strings.ContainsAny(username+user, "\n\r\x00") {
			t.Fatalf("error %q is not one line", msg)
		}
	})
}

func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{
		"",
		"user: ops\nboot_timeout: 30s\ninterval: 2d\ngroups: [wheel]\n",
		"tag_prefix: \"\"\n",
		"allowed_groups: [sudo, adm]\nallow_root: true\nallow_system_users: [daemon]\nshell: /bin/sh\n",
		"interval: -1s\n",
		"interval: 99999999d\n",
		"boot_timeout: [1]\n",
		"nope: 1\n",
		"user: &a x\ngroups: [*a]\n",
		"---\nuser: a\n---\nuser: b\n",
		"a: &a [*a, *a, *a, *a, *a]\n",
		"\t: :\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig(data)
		if err != nil {
			return
		}
		if verr := cfg.validate(); verr != nil {
			t.Fatalf("accepted a config validate refuses: %v", verr)
		}
		// What was accepted survives a write and a read.
		out, err := yaml.Marshal(cfg)
		if err != nil {
			t.Fatalf("marshalling %+v: %v", cfg, err)
		}
		back, err := ParseConfig(out)
		if err != nil {
			t.Fatalf("re-reading\n%s: %v", out, err)
		}
		if !sameConfig(cfg, back) {
			t.Fatalf("round trip changed the config:\n%+v\n%+v", cfg, back)
		}
	})
}

// sameConfig compares configs, nil and empty lists alike.
func sameConfig(a, b Config) bool {
	return a.TagPrefix == b.TagPrefix && a.User == b.User && a.AllowRoot == b.AllowRoot &&
		a.Shell == b.Shell && a.BootTimeout == b.BootTimeout && a.Interval == b.Interval &&
		slices.Equal(a.Groups, b.Groups) && slices.Equal(a.AllowedGroups, b.AllowedGroups) &&
		slices.Equal(a.AllowSystemUsers, b.AllowSystemUsers)
}

func FuzzStateLoad(f *testing.F) {
	for _, s := range []string{
		"",
		"{}",
		`{"applied":{"user":"ec2-serial","secret":"s","version_id":"v","fingerprint":"ab","time":"2026-12-03T10:00:00Z"},"reported":{"status":"ready","version_id":"v","time":"2026-12-03T10:00:00+01:00"},"last_pass":{"status":"error","reason":"x"}}`,
		`{"applied":{"time":"not a time"}}`,
		`{"applied":null,"reported":[]}`,
		`[1,2,3]`,
		`{"applied":{"user":"a\u0000b"}}`,
		"{\"applied\":{\"user\":\"\xff\"}}",
		`null`,
		`{"reported":{"time":"0001-01-01T00:00:00Z"}} trailing`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		fs := FileState{Path: filepath.Join(dir, "state.json")}
		if err := os.WriteFile(fs.Path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		st, err := fs.Load()
		if err != nil {
			if st != (State{}) {
				t.Fatalf("error %v with a non-empty state %+v", err, st)
			}
			return
		}
		// A state that loads survives a save and a load unchanged.
		if err := fs.Save(st); err != nil {
			t.Fatalf("saving a loaded state: %v", err)
		}
		back, err := fs.Load()
		if err != nil {
			t.Fatalf("loading a saved state: %v", err)
		}
		a, _ := json.Marshal(st)
		b, _ := json.Marshal(back)
		if !bytes.Equal(a, b) {
			t.Fatalf("save and load changed the state:\n%s\n%s", a, b)
		}
	})
}
