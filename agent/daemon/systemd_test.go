package daemon

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/serialpass/serialpass/agent"
)

// notifySocket listens on a unix datagram socket and points NOTIFY_SOCKET
// at it, as systemd does for Type=notify services.
func notifySocket(t *testing.T) *net.UnixConn {
	t.Helper()
	// Socket paths are limited to 108 bytes: keep the directory short.
	dir, err := os.MkdirTemp("", "sdn")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	return conn
}

func readDatagram(t *testing.T, conn *net.UnixConn) string {
	t.Helper()
	if err := conn.SetReadDeadline(time.Now().Add(guard)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("reading the notify socket: %v", err)
	}
	return string(buf[:n])
}

func TestSystemdNotifier(t *testing.T) {
	t.Run("reaches NOTIFY_SOCKET", func(t *testing.T) {
		conn := notifySocket(t)
		if err := (Systemd{}).Notify("STATUS=hello"); err != nil {
			t.Fatal(err)
		}
		if got := readDatagram(t, conn); got != "STATUS=hello" {
			t.Errorf("received %q", got)
		}
	})
	t.Run("no-op without NOTIFY_SOCKET", func(t *testing.T) {
		t.Setenv("NOTIFY_SOCKET", "")
		if err := (Systemd{}).Notify("READY=1"); err != nil {
			t.Errorf("Notify = %v, want nil", err)
		}
	})
	t.Run("a dead socket is an error", func(t *testing.T) {
		t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "gone"))
		if err := (Systemd{}).Notify("READY=1"); err == nil {
			t.Error("Notify to a missing socket succeeded")
		}
	})
}

// TestLoopNotifiesSystemd runs the loop with the real notifier: READY=1 and
// STATUS= reach the socket through go-systemd.
func TestLoopNotifiesSystemd(t *testing.T) {
	conn := notifySocket(t)
	clock := newFakeClock()
	passes := 0
	loop := &Loop{
		Pass: func(context.Context) agent.Result {
			passes++
			return ready
		},
		Interval: time.Minute,
		Clock:    clock,
		Notifier: Systemd{},
		Log:      slog.New(slog.DiscardHandler),
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- loop.Run(ctx) }()

	first := readDatagram(t, conn)
	if !strings.HasPrefix(first, "READY=1\nSTATUS=ready: user=ec2-serial version=v1 at ") {
		t.Errorf("first datagram = %q, want READY=1 and the ready status", first)
	}
	close(clock.nextSleep(t).fire)
	second := readDatagram(t, conn)
	if !strings.HasPrefix(second, "STATUS=ready: ") || strings.Contains(second, "READY=1") {
		t.Errorf("second datagram = %q, want STATUS= alone", second)
	}
	clock.nextSleep(t)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	if got := readDatagram(t, conn); got != "STOPPING=1" {
		t.Errorf("last datagram = %q, want STOPPING=1", got)
	}
	if passes != 2 {
		t.Errorf("%d passes, want 2", passes)
	}
}
