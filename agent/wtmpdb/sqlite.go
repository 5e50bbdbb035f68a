package wtmpdb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
)

// This file reads the rows of one table from an SQLite 3 database image
// (https://www.sqlite.org/fileformat2.html), the little wtmpdb needs: the
// schema table on page 1, table b-trees (interior and leaf pages),
// overflow chains, and records. It never writes and trusts nothing in the
// file: every offset is bounds-checked, page cycles and runaway depth are
// errors, and a malformed file is an error, never a panic.

// sqliteMagic opens every SQLite 3 database file.
const sqliteMagic = "SQLite format 3\x00"

// maxDepth bounds a table b-tree's depth (SQLite's own limit is 20).
const maxDepth = 40

// errMalformed wraps every structural error of the file.
var errMalformed = errors.New("malformed SQLite database")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errMalformed, fmt.Sprintf(format, args...))
}

// image is a database file read into memory.
type image struct {
	data     []byte
	pageSize int
	usable   int // page size minus the reserved bytes at each page's end
}

func openImage(data []byte) (*image, error) {
	if len(data) < 100 || string(data[:16]) != sqliteMagic {
		return nil, malformed("no SQLite 3 header")
	}
	ps := int(binary.BigEndian.Uint16(data[16:18]))
	if ps == 1 {
		ps = 65536
	}
	if ps < 512 || ps > 65536 || ps&(ps-1) != 0 {
		return nil, malformed("page size %d", ps)
	}
	usable := ps - int(data[20])
	if usable < 480 {
		return nil, malformed("usable page size %d", usable)
	}
	if enc := binary.BigEndian.Uint32(data[56:60]); enc > 1 {
		return nil, fmt.Errorf("text encoding %d is not UTF-8: not supported", enc)
	}
	return &image{data: data, pageSize: ps, usable: usable}, nil
}

// walMode tells whether the file is in write-ahead-log mode, where
// committed rows can still be in the -wal file beside it.
func (im *image) walMode() bool { return im.data[18] == 2 || im.data[19] == 2 }

// changeCounter is the header's file change counter, which every
// committed write transaction in rollback-journal mode increments.
func changeCounter(header []byte) uint32 { return binary.BigEndian.Uint32(header[24:28]) }

func (im *image) page(n uint32) ([]byte, error) {
	start := (int64(n) - 1) * int64(im.pageSize)
	if n == 0 || start+int64(im.pageSize) > int64(len(im.data)) {
		return nil, malformed("page %d is outside the file", n)
	}
	return im.data[start : start+int64(im.pageSize) : start+int64(im.pageSize)], nil
}

// rows calls fn with each record of the table b-tree rooted at root, in
// rowid order.
func (im *image) rows(root uint32, fn func(rec []any) error) error {
	return im.walk(root, 0, map[uint32]bool{}, fn)
}

func (im *image) walk(pgno uint32, depth int, seen map[uint32]bool, fn func([]any) error) error {
	if depth > maxDepth {
		return malformed("b-tree deeper than %d", maxDepth)
	}
	if seen[pgno] {
		return malformed("page %d is reached twice", pgno)
	}
	seen[pgno] = true
	p, err := im.page(pgno)
	if err != nil {
		return err
	}
	p = p[:im.usable]
	h := 0
	if pgno == 1 {
		h = 100
	}
	if len(p) < h+12 {
		return malformed("page %d is too short", pgno)
	}
	kind, ncells := p[h], int(binary.BigEndian.Uint16(p[h+3:]))
	hdr := 8
	switch kind {
	case 0x0d: // leaf table page
	case 0x05: // interior table page
		hdr = 12
	default:
		return malformed("page %d is not a table b-tree page (type %#x)", pgno, kind)
	}
	ptrs := h + hdr
	if ptrs+2*ncells > len(p) {
		return malformed("page %d: %d cells do not fit", pgno, ncells)
	}
	for i := range ncells {
		off := int(binary.BigEndian.Uint16(p[ptrs+2*i:]))
		if off < ptrs+2*ncells || off >= len(p) {
			return malformed("page %d: cell %d at offset %d", pgno, i, off)
		}
		cell := p[off:]
		if kind == 0x05 {
			if len(cell) < 4 {
				return malformed("page %d: short interior cell", pgno)
			}
			if err := im.walk(binary.BigEndian.Uint32(cell), depth+1, seen, fn); err != nil {
				return err
			}
			continue
		}
		size, n := varint(cell)
		if n == 0 {
			return malformed("page %d: cell %d has no payload size", pgno, i)
		}
		_, m := varint(cell[n:]) // the rowid
		if m == 0 {
			return malformed("page %d: cell %d has no rowid", pgno, i)
		}
		payload, err := im.payload(cell[n+m:], size)
		if err != nil {
			return fmt.Errorf("page %d cell %d: %w", pgno, i, err)
		}
		rec, err := record(payload)
		if err != nil {
			return fmt.Errorf("page %d cell %d: %w", pgno, i, err)
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
	if kind == 0x05 {
		return im.walk(binary.BigEndian.Uint32(p[h+8:]), depth+1, seen, fn)
	}
	return nil
}

// payload returns a leaf cell's payload of size bytes: the part on the
// page and, when it does not fit, the rest from the overflow chain.
func (im *image) payload(cell []byte, size int64) ([]byte, error) {
	u := int64(im.usable)
	maxLocal := u - 35
	if size < 0 || size > int64(len(im.data)) {
		return nil, malformed("payload of %d bytes", size)
	}
	if size <= maxLocal {
		if int64(len(cell)) < size {
			return nil, malformed("payload runs off the page")
		}
		return cell[:size], nil
	}
	minLocal := (u-12)*32/255 - 23
	local := minLocal + (size-minLocal)%(u-4)
	if local > maxLocal {
		local = minLocal
	}
	if int64(len(cell)) < local+4 {
		return nil, malformed("payload runs off the page")
	}
	out := make([]byte, 0, size)
	out = append(out, cell[:local]...)
	next := binary.BigEndian.Uint32(cell[local:])
	seen := map[uint32]bool{}
	for int64(len(out)) < size {
		if next == 0 || seen[next] {
			return nil, malformed("overflow chain ends early or loops")
		}
		seen[next] = true
		p, err := im.page(next)
		if err != nil {
			return nil, err
		}
		n := min(u-4, size-int64(len(out)))
		out = append(out, p[4:4+n]...)
		next = binary.BigEndian.Uint32(p)
	}
	return out, nil
}

// record decodes an SQLite record: NULL is nil, integers int64, reals
// float64, text string, blobs []byte.
func record(b []byte) ([]any, error) {
	hdrLen, n := varint(b)
	if n == 0 || hdrLen < int64(n) || hdrLen > int64(len(b)) {
		return nil, malformed("record header")
	}
	header, body := b[n:hdrLen], b[hdrLen:]
	var out []any
	for len(header) > 0 {
		t, m := varint(header)
		if m == 0 {
			return nil, malformed("record serial type")
		}
		header = header[m:]
		var size int64
		switch {
		case t >= 1 && t <= 4:
			size = t
		case t == 5:
			size = 6
		case t == 6 || t == 7:
			size = 8
		case t >= 12:
			size = (t - 12) / 2
		case t == 10 || t == 11 || t < 0:
			return nil, malformed("record serial type %d", t)
		}
		if size > int64(len(body)) {
			return nil, malformed("record value runs off the payload")
		}
		v := body[:size]
		body = body[size:]
		switch {
		case t == 0:
			out = append(out, nil)
		case t <= 6:
			out = append(out, bigEndianInt(v))
		case t == 7:
			out = append(out, math.Float64frombits(binary.BigEndian.Uint64(v)))
		case t == 8, t == 9:
			out = append(out, t-8)
		case t%2 == 0:
			out = append(out, bytes.Clone(v))
		default:
			out = append(out, string(v))
		}
	}
	return out, nil
}

// bigEndianInt is a two's-complement big-endian integer of 1 to 8 bytes.
func bigEndianInt(b []byte) int64 {
	var v int64
	if len(b) > 0 && b[0]&0x80 != 0 {
		v = -1
	}
	for _, c := range b {
		v = v<<8 | int64(c)
	}
	return v
}

// varint decodes SQLite's big-endian variable-length integer (1 to 9
// bytes); n is 0 when b ends first.
func varint(b []byte) (v int64, n int) {
	var u uint64
	for i := 0; i < 9 && i < len(b); i++ {
		if i == 8 {
			return int64(u<<8 | uint64(b[i])), 9
		}
		u = u<<7 | uint64(b[i]&0x7f)
		if b[i] < 0x80 {
			return int64(u), i + 1
		}
	}
	return 0, 0
}

// table finds a table in the schema (page 1) and returns its root page and
// column names, from its CREATE TABLE statement.
func (im *image) table(name string) (root uint32, columns []string, err error) {
	found := false
	err = im.rows(1, func(rec []any) error {
		if found || len(rec) < 5 {
			return nil
		}
		kind, _ := rec[0].(string)
		tbl, _ := rec[1].(string)
		if kind != "table" || !strings.EqualFold(tbl, name) {
			return nil
		}
		page, ok := rec[3].(int64)
		sql, _ := rec[4].(string)
		if !ok || page < 1 || page > math.MaxUint32 {
			return malformed("table %q has root page %v", name, rec[3])
		}
		root, columns, found = uint32(page), columnNames(sql), true
		return nil
	})
	if err != nil {
		return 0, nil, fmt.Errorf("reading the schema: %w", err)
	}
	if !found {
		return 0, nil, fmt.Errorf("no table %q", name)
	}
	return root, columns, nil
}

// columnNames lists the column names of a CREATE TABLE statement: the
// first word of each top-level comma-separated definition between the
// outer parentheses, table constraints left out.
func columnNames(sql string) []string {
	open, end := strings.IndexByte(sql, '('), strings.LastIndexByte(sql, ')')
	if open < 0 || end < open {
		return nil
	}
	var defs []string
	depth, start := 0, open+1
	for i := open + 1; i < end; i++ {
		switch sql[i] {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				defs = append(defs, sql[start:i])
				start = i + 1
			}
		}
	}
	defs = append(defs, sql[start:end])
	var names []string
	for _, d := range defs {
		f := strings.Fields(d)
		if len(f) == 0 {
			continue
		}
		switch strings.ToUpper(f[0]) {
		case "CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN":
			continue
		}
		names = append(names, strings.Trim(f[0], "\"`[]'"))
	}
	return names
}
