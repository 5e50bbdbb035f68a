package console

import (
	"bytes"
	"errors"
	"fmt"
)

// Our lines in files shared with the distro and the admin sit between these
// markers, so they can be found, replaced and removed without touching any
// other byte.
const (
	beginMarker = "# BEGIN serialpass"
	endMarker   = "# END serialpass"
)

// errUnterminated: a BEGIN marker without its END; we refuse to guess.
var errUnterminated = errors.New("serialpass block has a BEGIN line but no END line; fix it by hand")

// findBlock returns the byte range [start, end) of our block, including
// its final newline, or ok false. A block that ends the file without a
// newline owns the newline before it, which insertBlock added.
func findBlock(data []byte) (start, end int, ok bool, err error) {
	off := 0
	start = -1
	for off < len(data) {
		next := bytes.IndexByte(data[off:], '\n')
		lineEnd := len(data)
		if next >= 0 {
			lineEnd = off + next + 1
		}
		line := bytes.TrimRight(data[off:lineEnd], "\r\n")
		switch {
		case start < 0 && bytes.HasPrefix(line, []byte(beginMarker)):
			start = off
		case start >= 0 && bytes.HasPrefix(line, []byte(endMarker)):
			if next < 0 && start > 0 && data[start-1] == '\n' {
				start-- // the block was appended to a file without a final newline
			}
			return start, lineEnd, true, nil
		}
		off = lineEnd
	}
	if start >= 0 {
		return 0, 0, false, errUnterminated
	}
	return 0, 0, false, nil
}

// stripBlock returns data without our block and where it was (-1: absent).
func stripBlock(data []byte) ([]byte, int, error) {
	start, end, ok, err := findBlock(data)
	if err != nil || !ok {
		return data, -1, err
	}
	out := append(append([]byte{}, data[:start]...), data[end:]...)
	return out, start, nil
}

// insertBlock puts body (lines, each ending in "\n") between the markers
// at byte offset at, which must be the start of a line or len(data).
func insertBlock(data []byte, at int, title string, body []string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s: %s\n", beginMarker, title)
	for _, l := range body {
		b.WriteString(l + "\n")
	}
	b.WriteString(endMarker + "\n")
	block := b.Bytes()
	if at == len(data) && at > 0 && data[at-1] != '\n' {
		// Keep the file's missing final newline missing once we are gone:
		// the block carries the separating newline and none of its own.
		block = append([]byte{'\n'}, bytes.TrimSuffix(block, []byte("\n"))...)
	}
	out := make([]byte, 0, len(data)+len(block))
	out = append(out, data[:at]...)
	out = append(out, block...)
	return append(out, data[at:]...)
}

// lineStarts calls fn with the offset and text (without "\r\n") of each
// line until fn returns true; it returns that line's offset and the offset
// after it, or -1, -1.
func scanLines(data []byte, fn func(line string) bool) (start, next int) {
	off := 0
	for off < len(data) {
		n := bytes.IndexByte(data[off:], '\n')
		end := len(data)
		if n >= 0 {
			end = off + n + 1
		}
		if fn(string(bytes.TrimRight(data[off:end], "\r\n"))) {
			return off, end
		}
		off = end
	}
	return -1, -1
}
