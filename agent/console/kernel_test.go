package console

import (
	"context"
	"maps"
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

// grub-mkconfig texts: Debian's sources the drop-ins, upstream's (as
// RHEL's grub2-mkconfig) only the main file.
const (
	debianMkconfig = "if test -f ${sysconfdir}/default/grub ; then\n  . ${sysconfdir}/default/grub\nfi\n" +
		"for x in ${sysconfdir}/default/grub.d/*.cfg ; do\n  if [ -e \"${x}\" ]; then\n    . \"${x}\"\n  fi\ndone\n"
	rhelMkconfig = "if test -f ${sysconfdir}/default/grub ; then\n  . ${sysconfdir}/default/grub\nfi\n"
)

func TestKernelConsole(t *testing.T) {
	const cloudCfg = "etc/default/grub.d/15_cloud.cfg"
	tests := []struct {
		name       string
		files      map[string]string
		live       bool
		want       bool
		wantSource string
	}{
		{"grub default", map[string]string{GrubDefaultPath: "GRUB_CMDLINE_LINUX=\"console=tty0 console=ttyS0,115200\"\n"}, false, true, "/" + GrubDefaultPath},
		{"grub drop-in (Debian cloud)", map[string]string{
			GrubDefaultPath: "GRUB_CMDLINE_LINUX=\"\"\n",
			cloudCfg:        "GRUB_CMDLINE_LINUX_DEFAULT=\"$GRUB_CMDLINE_LINUX_DEFAULT console=ttyS0\"\n",
		}, false, true, "/" + cloudCfg},
		{"drop-in read by Debian's grub-mkconfig", map[string]string{
			GrubDefaultPath: "GRUB_CMDLINE_LINUX=\"\"\n", cloudCfg: "GRUB_CMDLINE_LINUX=\"console=ttyS0\"\n",
			"usr/sbin/grub-mkconfig": debianMkconfig,
		}, false, true, "/" + cloudCfg},
		{"drop-in grub2-mkconfig does not read (RHEL)", map[string]string{
			GrubDefaultPath: "GRUB_CMDLINE_LINUX=\"crashkernel=auto\"\n", "etc/default/grub.d/50-serialpass.cfg": "GRUB_CMDLINE_LINUX=\"console=ttyS0\"\n",
			"usr/sbin/grub2-mkconfig": rhelMkconfig,
		}, false, false, "/" + GrubDefaultPath},
		{"a later assignment replaces it", map[string]string{
			GrubDefaultPath: "GRUB_CMDLINE_LINUX=\"console=ttyS0\"\nGRUB_CMDLINE_LINUX=\"quiet\"\n",
		}, false, false, "/" + GrubDefaultPath},
		{"a later assignment appends with ${}", map[string]string{
			GrubDefaultPath: "GRUB_CMDLINE_LINUX='quiet'\nexport GRUB_CMDLINE_LINUX=\"${GRUB_CMDLINE_LINUX} console=ttyS0,115200n8\" # serial\n",
		}, false, true, "/" + GrubDefaultPath},
		{"commented out", map[string]string{GrubDefaultPath: "#GRUB_CMDLINE_LINUX=\"console=ttyS0\"\n"}, false, false, "/" + GrubDefaultPath},
		{"other variable", map[string]string{GrubDefaultPath: "GRUB_CMDLINE_XEN=\"console=ttyS0\"\n"}, false, false, "/" + GrubDefaultPath},
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

// rhelGrub is Amazon Linux 2023's /etc/default/grub, without its final
// newline to prove that every byte comes back.
const rhelGrub = `GRUB_CMDLINE_LINUX="console=tty0 nvme_core.io_timeout=4294967295 rd.emergency=poweroff rd.shell=0 selinux=1 security=selinux quiet"
GRUB_TIMEOUT=0
GRUB_DISABLE_RECOVERY="true"
GRUB_TERMINAL="ec2-console"
GRUB_X86_USE_32BIT="true"
GRUB_ENABLE_BLSCFG="true"`

func TestApplyKernelFix(t *testing.T) {
	const debianGrub = "GRUB_DEFAULT=0\nGRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\nGRUB_CMDLINE_LINUX=\"\"\n"
	tests := []struct {
		name       string
		files      map[string]string
		dirs       []string
		live       bool
		wantDropIn bool
		wantErr    string
	}{
		{name: "RHEL, no grub.d: marked block in /etc/default/grub", files: map[string]string{
			GrubDefaultPath: rhelGrub, "usr/sbin/grub2-mkconfig": rhelMkconfig}},
		{name: "no grub.d, no GRUB tools (image)", files: map[string]string{GrubDefaultPath: debianGrub}},
		{name: "live RHEL", live: true, files: map[string]string{GrubDefaultPath: rhelGrub, "cmdline": "root=/dev/nvme0n1p1 console=tty0\n"}},
		{name: "grub.d exists but grub2-mkconfig does not read it", dirs: []string{GrubDropInDir},
			files: map[string]string{GrubDefaultPath: rhelGrub, "usr/sbin/grub2-mkconfig": rhelMkconfig}},
		{name: "an earlier version's drop-in where grub.d is not read is taken out", dirs: []string{GrubDropInDir}, files: map[string]string{
			GrubDefaultPath: rhelGrub, "usr/sbin/grub2-mkconfig": rhelMkconfig,
			GrubDropInPath: "GRUB_CMDLINE_LINUX=\"$GRUB_CMDLINE_LINUX console=ttyS0\"\n",
		}},
		{name: "Debian with grub.d: the drop-in", wantDropIn: true, dirs: []string{GrubDropInDir},
			files: map[string]string{GrubDefaultPath: debianGrub, "usr/sbin/grub-mkconfig": debianMkconfig}},
		{name: "grub.d without GRUB tools: the drop-in", wantDropIn: true, dirs: []string{GrubDropInDir},
			files: map[string]string{GrubDefaultPath: debianGrub}},
		{name: "no GRUB defaults at all", wantErr: "no GRUB defaults to fix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for _, d := range tt.dirs {
				mkdir(t, filepath.Join(root, d))
			}
			for p, data := range tt.files {
				writeFile(t, filepath.Join(root, p), data)
			}
			orig := tt.files[GrubDefaultPath]
			c := New(root, &fakeRunner{})
			c.liveRoot = tt.live
			c.CmdlinePath = filepath.Join(root, "cmdline")

			_, ok, err := c.applyKernel(Options{})
			if ok || err == nil || !strings.HasPrefix(err.Error(), "kernel console is not on ttyS0") {
				t.Fatalf("without fix_console: ok %v, err %v", ok, err)
			}
			_, ok, err = c.applyKernel(Options{FixConsole: true})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || c.exists("etc/default") {
					t.Fatalf("err = %v, want one with %q and nothing written", err, tt.wantErr)
				}
				return
			}
			for _, w := range []string{"reboot", "update-grub", "grub2-mkconfig", "grubby"} {
				if ok || err == nil || !strings.Contains(err.Error(), w) {
					t.Fatalf("with fix_console: ok %v, err %v: want a word about %s", ok, err, w)
				}
			}
			grub := readFile(t, filepath.Join(root, GrubDefaultPath))
			line := `GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX console=ttyS0,115200"`
			if tt.wantDropIn {
				if grub != orig || !strings.Contains(readFile(t, filepath.Join(root, GrubDropInPath)), line+"\n") {
					t.Errorf("want the drop-in only; grub:\n%s", grub)
				}
			} else {
				if c.exists(GrubDropInPath) || (!slices.Contains(tt.dirs, GrubDropInDir) && c.exists(GrubDropInDir)) {
					t.Errorf("a drop-in (or grub.d) where grub does not read it")
				}
				want := orig + beginMarker + ": fix_console adds the serial console; takes effect after grub-mkconfig and a reboot\n" + line + "\n" + endMarker + "\n"
				if !strings.HasSuffix(orig, "\n") { // the block brings the newline and keeps none of its own
					want = orig + "\n" + strings.TrimSuffix(want[len(orig):], "\n")
				}
				if grub != want {
					t.Errorf("grub does not end in our block after the original bytes:\n%s", grub)
				}
			}
			if !tt.live {
				if ok, _, _ := c.KernelConsole("ttyS0"); !ok {
					t.Error("the GRUB defaults grub reads still lack the console after the fix")
				}
			}

			before := snapshot(t, root)
			if _, err := c.fixGrub("ttyS0"); err != nil {
				t.Fatal(err)
			}
			if again := snapshot(t, root); !maps.Equal(before, again) {
				t.Errorf("a second fix changed files")
			}

			w, err := c.Remove(context.Background())
			if err != nil || !slices.ContainsFunc(w, func(s string) bool { return strings.Contains(s, "reboot") }) {
				t.Fatalf("Remove: warnings %q, err %v", w, err)
			}
			if back := readFile(t, filepath.Join(root, GrubDefaultPath)); back != orig {
				t.Errorf("after cleanup:\n%q\nwant\n%q", back, orig)
			}
			if c.exists(GrubDropInPath) {
				t.Errorf("drop-in left after cleanup")
			}
		})
	}
}

func TestFixGrubMovesItsBlockLast(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, GrubDefaultPath), "GRUB_TIMEOUT=5\n")
	c := New(root, &fakeRunner{})
	if _, err := c.fixGrub("ttyS0"); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(root, GrubDefaultPath)
	writeFile(t, p, readFile(t, p)+"GRUB_CMDLINE_LINUX=\"quiet\"\n") // the admin's, after ours
	if ok, _, _ := c.KernelConsole("ttyS0"); ok {
		t.Fatal("an assignment after our block should undo it")
	}
	if _, err := c.fixGrub("ttyS0"); err != nil {
		t.Fatal(err)
	}
	if ok, _, _ := c.KernelConsole("ttyS0"); !ok {
		t.Errorf("still no console:\n%s", readFile(t, p))
	}
	if _, err := c.RemoveKernelFix(); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, p); got != "GRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX=\"quiet\"\n" {
		t.Errorf("after removal: %q", got)
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
