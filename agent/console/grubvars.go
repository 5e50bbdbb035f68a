package console

import (
	"os"
	"strings"
)

// The GRUB defaults are shell sourced by grub-mkconfig. We follow the
// simple forms the kernel command line takes there (VAR="...", VAR='...',
// VAR=word, export VAR=..., with $VAR or ${VAR} of either variable
// expanded), so a later assignment replaces an earlier one as in the shell.

const (
	grubCmdlineLinux   = "GRUB_CMDLINE_LINUX"
	grubCmdlineDefault = "GRUB_CMDLINE_LINUX_DEFAULT"
)

// grubVars holds the values so far and the file that last set each.
type grubVars struct {
	value map[string]string
	from  map[string]string
}

// source applies the assignments of one file.
func (g *grubVars) source(data []byte, file string) {
	if g.value == nil {
		g.value, g.from = map[string]string{}, map[string]string{}
	}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(strings.TrimSuffix(line, "\r"))
		line = strings.TrimPrefix(line, "export ")
		name, raw, ok := strings.Cut(line, "=")
		if !ok || (name != grubCmdlineLinux && name != grubCmdlineDefault) {
			continue
		}
		g.value[name] = g.word(raw)
		g.from[name] = file
	}
}

// word evaluates the shell word at the start of raw: quotes removed,
// our two variables expanded (any other expands to nothing), up to the
// first unquoted blank.
func (g *grubVars) word(raw string) string {
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		switch ch := raw[i]; {
		case ch == ' ' || ch == '\t':
			return b.String()
		case ch == '\'':
			end := strings.IndexByte(raw[i+1:], '\'')
			if end < 0 {
				end = len(raw) - i - 1
			}
			b.WriteString(raw[i+1 : i+1+end])
			i += end + 1
		case ch == '"':
			j := i + 1
			for ; j < len(raw) && raw[j] != '"'; j++ {
				if raw[j] == '$' {
					v, n := g.expand(raw[j:])
					b.WriteString(v)
					j += n - 1
					continue
				}
				if raw[j] == '\\' && j+1 < len(raw) {
					j++
				}
				b.WriteByte(raw[j])
			}
			i = j
		case ch == '$':
			v, n := g.expand(raw[i:])
			b.WriteString(v)
			i += n - 1
		case ch == '\\' && i+1 < len(raw):
			i++
			b.WriteByte(raw[i])
		default:
			b.WriteByte(ch)
		}
	}
	return b.String()
}

// expand reads $NAME or ${NAME} at the start of s and returns its value
// and the bytes it spans.
func (g *grubVars) expand(s string) (string, int) {
	if strings.HasPrefix(s, "${") {
		end := strings.IndexByte(s, '}')
		if end < 0 {
			return "", len(s)
		}
		return g.value[s[2:end]], end + 1
	}
	n := 1
	for n < len(s) && (s[n] == '_' || s[n] >= 'A' && s[n] <= 'Z' || s[n] >= 'a' && s[n] <= 'z' || s[n] >= '0' && s[n] <= '9') {
		n++
	}
	if n == 1 {
		return "$", 1
	}
	return g.value[s[1:n]], n
}

// statDir reports whether p is a directory.
func statDir(p string) (bool, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return false, err
	}
	return fi.IsDir(), nil
}
