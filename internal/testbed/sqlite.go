package testbed

import (
	"os/exec"
	"strings"
)

// SQLite runs sql on the database file at path (created when missing)
// with the SQLite library itself, through Python's sqlite3 module: the
// library wtmpdb links, on every machine that runs moto. The SQL goes on
// stdin.
func SQLite(t TB, path, sql string) {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatalf("python3 (its sqlite3 module writes the test databases) not found: apt-get install python3")
	}
	const prog = "import sqlite3, sys\nc = sqlite3.connect(sys.argv[1])\nc.executescript(sys.stdin.read())\nc.commit()\nc.close()\n"
	cmd := exec.Command("python3", "-c", prog, path)
	cmd.Stdin = strings.NewReader(sql)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("python3 sqlite3 on %s: %v\n%s", path, err, out)
	}
}
