package shadow

import (
	"reflect"
	"strings"
	"testing"

	"github.com/serialpass/serialpass/internal/testbed"
)

func TestRemoveAgingArgv(t *testing.T) {
	sandbox := testbed.NewRoot(t, testbed.WithUser("alice", 1001))
	tests := []struct {
		name    string
		root    string
		shadow  string     // alice's line
		want    [][]string // R stands for the sandbox root
		wantErr string
	}{
		{name: "aged account in the sandbox", root: sandbox, shadow: "alice:$6$s$h:20000:1:90:14:30:21915:",
			want: [][]string{{"chage", "--root", "R", "--mindays", "0", "--maxdays", "-1", "--inactive", "-1", "--expiredate", "-1", "alice"}}},
		{name: "change at next login: last change becomes today", root: sandbox, shadow: "alice:$6$s$h:0:0:99999:7:::",
			want: [][]string{{"chage", "--root", "R", "--mindays", "0", "--maxdays", "-1", "--inactive", "-1", "--expiredate", "-1", "--lastday", "2026-12-03", "alice"}}},
		{name: "on /", root: "/", shadow: "alice:$6$s$h:20000:1:90:14:30::",
			want: [][]string{{"chage", "--mindays", "0", "--maxdays", "-1", "--inactive", "-1", "--expiredate", "-1", "alice"}}},
		{name: "no shadow entry", root: sandbox, wantErr: "no entry in etc/shadow"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setShadow(t, sandbox, "alice", tt.shadow)
			m, f := newTestManager(tt.root, sandbox)
			err := m.RemoveAging(t.Context(), "alice")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || len(f.calls) != 0 {
					t.Errorf("error = %v, ran %v; want one containing %q, nothing run", err, f.calls, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got [][]string
			for _, c := range f.calls {
				argv := append([]string(nil), c.argv...)
				for i, a := range argv {
					if a == sandbox {
						argv[i] = "R"
					}
				}
				got = append(got, argv)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ran %q, want %q", got, tt.want)
			}
		})
	}
	t.Run("refuses a bad name", func(t *testing.T) {
		m, f := newTestManager(sandbox, sandbox)
		if err := m.RemoveAging(t.Context(), "-R"); err == nil || len(f.calls) != 0 {
			t.Errorf("RemoveAging(-R) = %v, ran %v; want refused, nothing run", err, f.calls)
		}
	})
}
