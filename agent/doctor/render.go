package doctor

import (
	"encoding/json"
	"fmt"
	"io"
	"unicode/utf8"
)

var symbols = map[Level]string{Pass: "✓", Warn: "!", Fail: "✗"}

// WriteTable prints one aligned line per check: symbol, name, why, and
// the fix after an arrow.
func WriteTable(w io.Writer, checks []Check) error {
	width := 0
	for _, c := range checks {
		width = max(width, utf8.RuneCountInString(c.Name))
	}
	for _, c := range checks {
		line := fmt.Sprintf("%s %-*s  %s", symbols[c.Level], width, c.Name, c.Why)
		if c.Fix != "" {
			line += " → " + c.Fix
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
	}
	return nil
}

// WriteJSON prints the checks as a JSON array.
func WriteJSON(w io.Writer, checks []Check) error {
	if checks == nil {
		checks = []Check{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(checks)
}
