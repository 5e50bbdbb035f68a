package shadow

import (
	"reflect"
	"strings"
	"testing"
)

func TestParsePasswd(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []passwdEntry
	}{
		{name: "empty", in: "", want: nil},
		{
			name: "regular",
			in:   "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000:Alice,,,:/home/alice:/bin/sh\n",
			want: []passwdEntry{
				{Name: "root", UID: 0, GID: 0, Home: "/root", Shell: "/bin/bash"},
				{Name: "alice", UID: 1000, GID: 1000, Home: "/home/alice", Shell: "/bin/sh"},
			},
		},
		{
			name: "junk skipped",
			in: "# comment\n\n+nis::::::\n-bad::::::\nshort:x:1\nbaduid:x:abc:0::/:/bin/sh\n" +
				"neg:x:-1:0::/:/bin/sh\nhuge:x:99999999999:0::/:/bin/sh\nsp ace:x:5:5::/:/bin/sh\n" +
				":x:6:6::/:/bin/sh\neight:x:7:7::/:/bin/sh:extra\nok:x:8:8::/home/ok:/bin/sh\r\n",
			want: []passwdEntry{{Name: "ok", UID: 8, GID: 8, Home: "/home/ok", Shell: "/bin/sh"}},
		},
		{
			name: "a 2 MB line hides nothing after it",
			in:   strings.Repeat("x", 2<<20) + "\nlate:x:2:2::/:/bin/sh\n",
			want: []passwdEntry{{Name: "late", UID: 2, GID: 2, Home: "/", Shell: "/bin/sh"}},
		},
		{
			name: "no final newline",
			in:   "bob:x:1001:1001::/home/bob:/bin/bash",
			want: []passwdEntry{{Name: "bob", UID: 1001, GID: 1001, Home: "/home/bob", Shell: "/bin/bash"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parsePasswd([]byte(tt.in)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parsePasswd = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseShadow(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []shadowEntry
	}{
		{
			name: "fields",
			in: "root:*:19700:0:99999:7:::\n" +
				"alice:$6$s$h:20000:0:99999:7::20001:\n" +
				"locked:!$y$j9T$x$y:20000::::::\n" +
				"empty::20000::::::\n",
			want: []shadowEntry{
				{Name: "root", Password: "*", LastChange: 19700, Min: 0, Max: 99999, Warn: 7, Inactive: -1, Expire: -1},
				{Name: "alice", Password: "$6$s$h", LastChange: 20000, Min: 0, Max: 99999, Warn: 7, Inactive: -1, Expire: 20001},
				{Name: "locked", Password: "!$y$j9T$x$y", LastChange: 20000, Min: -1, Max: -1, Warn: -1, Inactive: -1, Expire: -1},
				{Name: "empty", Password: "", LastChange: 20000, Min: -1, Max: -1, Warn: -1, Inactive: -1, Expire: -1},
			},
		},
		{
			name: "junk skipped",
			in: "bad:x:1:2:3\nbadexp:x:1:2:3:4:5:never:\nneg:x:1:2:3:4:5:-5:\n#c:x:1:2:3:4:5:6:\n" +
				"badmax:x:1:2:ninety:4:5:6:\nnegmin:x:1:-2:3:4:5:6:\nok:!:1:::::0:\naged:!:0:1:90:14:30:-1:\n",
			want: []shadowEntry{
				{Name: "ok", Password: "!", LastChange: 1, Min: -1, Max: -1, Warn: -1, Inactive: -1, Expire: 0},
				{Name: "aged", Password: "!", LastChange: 0, Min: 1, Max: 90, Warn: 14, Inactive: 30, Expire: -1},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseShadow([]byte(tt.in)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseShadow = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseGroup(t *testing.T) {
	in := "root:x:0:\nsudo:x:27:alice,bob\nusers:x:100: alice , ,bad name\nbad:x:y:\nshort:x:1\n"
	want := []groupEntry{
		{Name: "root", GID: 0},
		{Name: "sudo", GID: 27, Members: []string{"alice", "bob"}},
		{Name: "users", GID: 100, Members: []string{"alice"}},
	}
	if got := parseGroup([]byte(in)); !reflect.DeepEqual(got, want) {
		t.Errorf("parseGroup = %+v, want %+v", got, want)
	}
}

func TestParseLoginDefs(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want map[string]string
	}{
		{name: "empty", in: "", want: map[string]string{}},
		{
			name: "debian style",
			in:   "# comment\nUID_MIN\t\t\t 1000\nENCRYPT_METHOD SHA512\n\n  MAIL_DIR /var/mail\n",
			want: map[string]string{"UID_MIN": "1000", "ENCRYPT_METHOD": "SHA512", "MAIL_DIR": "/var/mail"},
		},
		{
			name: "quotes, trailing words, later wins, lone key",
			in:   "ENCRYPT_METHOD \"YESCRYPT\"\nUID_MIN 500 # old\nUID_MIN 1000\nLONELY\nEMPTY   \n",
			want: map[string]string{"ENCRYPT_METHOD": "YESCRYPT", "UID_MIN": "1000"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseLoginDefs([]byte(tt.in)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseLoginDefs = %v, want %v", got, tt.want)
			}
		})
	}
}

// Fuzz targets. Their seeds run in every go test; run one for real with
// go test -fuzz=FuzzParsePasswd ./agent/shadow/ (and so on).

var fuzzSeeds = []string{
	"",
	"root:x:0:0:root:/root:/bin/bash\n",
	"root:*:19700:0:99999:7:::\nalice:!$6$a$b:1:2:3:4:5:20001:\n",
	"sudo:x:27:alice,bob\n",
	"UID_MIN 1000\nENCRYPT_METHOD \"SHA512\"\n",
	"# c\n+::::::\n-x\n::::\n\r\n\x00:\x00:0:0:::\n",
	"a:b:c:d:e:f:g:h:i\na:x:4294967296:0:::\n",
}

// checkName is what every parser promises about the names it returns: a
// caller can match on them and put them on a chpasswd line safely.
func checkName(t *testing.T, what, name string) {
	t.Helper()
	if name == "" || strings.ContainsAny(name, ":\n\r, \t\x00") {
		t.Fatalf("%s name %q is not plausible", what, name)
	}
}

func FuzzParsePasswd(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, e := range parsePasswd(b) {
			checkName(t, "passwd", e.Name)
			if e.UID < 0 || e.GID < 0 || e.UID > 1<<32-1 {
				t.Fatalf("passwd entry %+v has an impossible id", e)
			}
			if strings.ContainsAny(e.Home+e.Shell, ":\n") {
				t.Fatalf("passwd entry %+v spans fields or lines", e)
			}
		}
	})
}

func FuzzParseShadow(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, e := range parseShadow(b) {
			checkName(t, "shadow", e.Name)
			if strings.ContainsAny(e.Password, ":\n") || min(e.LastChange, e.Min, e.Max, e.Warn, e.Inactive, e.Expire) < -1 {
				t.Fatalf("shadow entry %+v is malformed", e)
			}
		}
	})
}

func FuzzParseGroup(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, g := range parseGroup(b) {
			checkName(t, "group", g.Name)
			for _, m := range g.Members {
				checkName(t, "member", m)
			}
		}
	})
}

func FuzzParseLoginDefs(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for k, v := range parseLoginDefs(b) {
			if k == "" || v == "" || strings.ContainsAny(k, " \t\n\r") || strings.ContainsAny(v, " \t\n\r\"") {
				t.Fatalf("login.defs pair %q=%q is not a single token each", k, v)
			}
		}
	})
}
