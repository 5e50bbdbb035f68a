package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRunRejectsBadInput(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "tags.json")
	if err := os.WriteFile(bad, []byte(`["not","a","map"]`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
	}{
		{"unknown flag", []string{"-nope"}},
		{"extra argument", []string{"-addr", "127.0.0.1:0", "extra"}},
		{"missing tags file", []string{"-addr", "127.0.0.1:0", "-tags-file", filepath.Join(t.TempDir(), "missing.json")}},
		{"tags file not a JSON object", []string{"-addr", "127.0.0.1:0", "-tags-file", bad}},
		{"bad address", []string{"-addr", "256.0.0.1:99999"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := run(tt.args); err == nil {
				t.Errorf("run(%q) succeeded, want an error", tt.args)
			}
		})
	}
}
