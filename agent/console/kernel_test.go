package console

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestHasConsole(t *testing.T) {
	tests := []struct {
		name, cmdline string
		want          bool
	}{
		{"plain", "root=/dev/vda console=ttyS0", true},
		{"with speed", "BOOT_IMAGE=/vmlinuz console=tty0 console=ttyS0,115200n8 nvme_core.io_timeout=4294967295", true},
		{"dev path", "console=/dev/ttyS0", true},
		{"quoted grub value", `"console=ttyS0,115200"`, true},
		{"other port", "console=ttyS1", false},
		{"prefix only", "console=ttyS01", false},
		{"vt only", "console=tty1 quiet", false},
		{"none", "root=/dev/vda ro", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := hasConsole(tt.cmdline, "ttyS0"); got != tt.want {
				t.Errorf("hasConsole(%q) = %v, want %v", tt.cmdline, got, tt.want)
			}
		})
	}
}

func TestKernelConsole(t *testing.T) {
	tests := []struct {
		name       string
		files      map[string]string
		live       bool
		want       bool
		wantSource string
	}{
		{"grub default", map[string]string{GrubDefaultPath: "GRUB_CMDLINE_LINUX=\"console=tty0 console=ttyS0,115200\"\n"}, false, true, "/" + GrubDefaultPath},
		{"grub drop-in (Debian cloud)", map[string]string{
			GrubDefaultPath:                   "GRUB_CMDLINE_LINUX=\"\"\n",
			"etc/default/grub.d/15_cloud.cfg": "GRUB_CMDLINE_LINUX_DEFAULT=\"$GRUB_CMDLINE_LINUX_DEFAULT console=ttyS0\"\n",
		}, false, true, "/etc/default/grub.d/15_cloud.cfg"},
		{"grub without console", map[string]string{GrubDefaultPath: "GRUB_CMDLINE_LINUX=\"quiet\"\n"}, false, false, "/" + GrubDefaultPath},
		{"live cmdline", map[string]string{"cmdline": "root=/dev/vda console=ttyS0,115200 rw\n"}, true, true, "cmdline"},
		{"live cmdline without", map[string]string{"cmdline": "root=/dev/vda rw\n", GrubDefaultPath: "GRUB_CMDLINE_LINUX=\"console=ttyS0\"\n"}, true, false, "cmdline"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for p, data := range tt.files {
				writeFile(t, filepath.Join(root, p), data)
			}
			c := New(root, &fakeRunner{})
			c.liveRoot = tt.live
			c.CmdlinePath = filepath.Join(root, "cmdline")
			got, source, err := c.KernelConsole("ttyS0")
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want || !strings.HasSuffix(source, tt.wantSource) {
				t.Errorf("= %v from %s, want %v from %s", got, source, tt.want, tt.wantSource)
			}
		})
	}
}

func TestApplyKernelFix(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, GrubDefaultPath), "GRUB_CMDLINE_LINUX=\"quiet\"\n")
	c := New(root, &fakeRunner{})

	_, ok, err := c.applyKernel(Options{})
	if ok || err == nil || !strings.HasPrefix(err.Error(), "kernel console is not on ttyS0") {
		t.Fatalf("without fix_console: ok %v, err %v", ok, err)
	}
	if c.exists(GrubDropInPath) {
		t.Fatal("drop-in written without fix_console")
	}
	_, ok, err = c.applyKernel(Options{FixConsole: true})
	if ok || err == nil || !strings.Contains(err.Error(), "reboot") || !strings.Contains(err.Error(), "update-grub") {
		t.Fatalf("with fix_console: ok %v, err %v", ok, err)
	}
	got := readFile(t, filepath.Join(root, GrubDropInPath))
	if !strings.Contains(got, `GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX console=tty0 console=ttyS0,115200n8"`) {
		t.Errorf("drop-in = %q", got)
	}
	if ok, _, _ := c.KernelConsole("ttyS0"); !ok {
		t.Error("the image's GRUB defaults still lack the console after the fix")
	}
}

func TestGetty(t *testing.T) {
	const unit = "serial-getty@ttyS0.service"
	tests := []struct {
		name        string
		masked      bool
		enabled     bool
		kernelOK    bool
		enableGetty bool
		wantErr     bool
		wantCalls   []string
	}{
		{name: "started by the generator", kernelOK: true},
		{name: "masked", masked: true, kernelOK: true, wantErr: true},
		{name: "masked, enable_getty", masked: true, kernelOK: true, enableGetty: true,
			wantCalls: []string{"unmask " + unit, "enable " + unit}},
		{name: "disabled, console elsewhere: warned"},
		{name: "disabled, console elsewhere, enable_getty", enableGetty: true, wantCalls: []string{"enable " + unit}},
		{name: "enabled", enabled: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			if tt.masked {
				mkdir(t, filepath.Join(root, "etc/systemd/system"))
				if err := os.Symlink("/dev/null", filepath.Join(root, "etc/systemd/system", unit)); err != nil {
					t.Fatal(err)
				}
			}
			if tt.enabled {
				writeFile(t, filepath.Join(root, "etc/systemd/system/getty.target.wants", unit), "")
			}
			run := &fakeRunner{}
			c := New(root, run)
			s := c.Getty("ttyS0")
			if s.Masked != tt.masked || s.Enabled != tt.enabled {
				t.Errorf("Getty = %+v", s)
			}
			_, err := c.applyGetty(context.Background(), Options{EnableGetty: tt.enableGetty}, tt.kernelOK)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			var want []string
			for _, w := range tt.wantCalls {
				want = append(want, "systemctl --root="+root+" "+w)
			}
			if !slices.Equal(run.calls, want) {
				t.Errorf("calls = %q, want %q", run.calls, want)
			}
		})
	}
}
