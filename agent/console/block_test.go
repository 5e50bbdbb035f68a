package console

import (
	"errors"
	"testing"
)

func TestBlockRoundTrip(t *testing.T) {
	body := []string{"+:u:ttyS0", "-:u:ALL"}
	tests := []struct {
		name string
		data string
		at   int
	}{
		{"empty file", "", 0},
		{"top", "a\nb\n", 0},
		{"middle", "a\nb\n", 2},
		{"end", "a\nb\n", 4},
		{"end without final newline", "a\nb", 3},
		{"crlf", "a\r\nb\r\n", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := insertBlock([]byte(tt.data), tt.at, "title", body)
			back, at, err := stripBlock(out)
			if err != nil {
				t.Fatal(err)
			}
			if string(back) != tt.data {
				t.Errorf("round trip = %q, want %q (inserted: %q)", back, tt.data, out)
			}
			if at < 0 {
				t.Errorf("block not found in %q", out)
			}
		})
	}
}

func TestStripBlockUnterminated(t *testing.T) {
	data := []byte("a\n" + beginMarker + ": x\n+:u:ttyS0\n")
	out, _, err := stripBlock(data)
	if !errors.Is(err, errUnterminated) {
		t.Fatalf("err = %v, want errUnterminated", err)
	}
	if string(out) != string(data) {
		t.Errorf("data changed: %q", out)
	}
}
