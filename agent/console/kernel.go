package console

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
)

// GRUB files, relative to the root.
const (
	GrubDefaultPath = "etc/default/grub"
	GrubDropInDir   = "etc/default/grub.d"
	GrubDropInPath  = "etc/default/grub.d/50-serialpass.cfg"
)

// hasConsole reports whether a kernel command line sends the console to dev
// (console=ttyS0 or console=ttyS0,115200n8).
func hasConsole(cmdline, dev string) bool {
	for _, f := range strings.Fields(cmdline) {
		f = strings.Trim(f, `"'`)
		v, ok := strings.CutPrefix(f, "console=")
		if !ok {
			continue
		}
		if name, _, _ := strings.Cut(v, ","); name == dev || name == "/dev/"+dev {
			return true
		}
	}
	return false
}

// KernelConsole tells whether the kernel console is on dev, and where it
// looked: /proc/cmdline on the live system, the GRUB defaults (the main
// file and its drop-ins) under another root.
func (c *Console) KernelConsole(dev string) (ok bool, source string, err error) {
	if c.live() {
		p := c.CmdlinePath
		if p == "" {
			p = "/proc/cmdline"
		}
		data, _, err := c.readAbs(p)
		if err != nil {
			return false, p, err
		}
		return hasConsole(string(data), dev), p, nil
	}
	files := []string{GrubDefaultPath}
	matches, _ := filepath.Glob(c.path(GrubDropInDir + "/*.cfg"))
	sort.Strings(matches)
	for _, m := range matches {
		rel, _ := filepath.Rel(c.Root, m)
		files = append(files, filepath.ToSlash(rel))
	}
	for _, f := range files {
		data, _, err := c.read(f)
		if err != nil {
			return false, "/" + f, err
		}
		for _, line := range strings.Split(string(data), "\n") {
			line = strings.TrimSpace(line)
			for _, v := range []string{"GRUB_CMDLINE_LINUX=", "GRUB_CMDLINE_LINUX_DEFAULT="} {
				if val, ok := strings.CutPrefix(line, v); ok && hasConsole(val, dev) {
					return true, "/" + f, nil
				}
			}
		}
	}
	return false, "/" + GrubDefaultPath, nil
}

// applyKernel checks the kernel console and, with FixConsole, adds it to
// the GRUB defaults through our drop-in. A console elsewhere is an error
// either way: it works only after update-grub and a reboot.
func (c *Console) applyKernel(o Options) (warnings []string, ok bool, err error) {
	dev := o.Device()
	ok, source, err := c.KernelConsole(dev)
	if err != nil {
		return nil, false, fmt.Errorf("reading the kernel command line: %w", err)
	}
	if ok {
		return nil, true, nil
	}
	if !o.FixConsole {
		return nil, false, fmt.Errorf("kernel console is not on %s (no console=%s in %s; set fix_console: true or add it to GRUB_CMDLINE_LINUX)", dev, dev, source)
	}
	if !c.exists(GrubDropInDir) && !c.exists(GrubDefaultPath) {
		return nil, false, fmt.Errorf("kernel console is not on %s, and there are no GRUB defaults to fix (/%s): add console=%s to the kernel command line", dev, GrubDefaultPath, dev)
	}
	body := fmt.Sprintf("# Added by serialpass (fix_console): the kernel console on the serial port.\n"+
		"# Takes effect after update-grub (grub2-mkconfig) and a reboot.\n"+
		"GRUB_CMDLINE_LINUX=\"$GRUB_CMDLINE_LINUX console=tty0 console=%s,115200n8\"\n", dev)
	if err := c.write(GrubDropInPath, []byte(body), 0o644); err != nil {
		return nil, false, err
	}
	return nil, false, fmt.Errorf("kernel console is not on %s: console=%s added in /%s; run update-grub and reboot", dev, dev, GrubDropInPath)
}
