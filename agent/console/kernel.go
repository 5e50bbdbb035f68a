package console

import (
	"bytes"
	"errors"
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

// grubMkconfigs are where grub-mkconfig (Debian, Ubuntu) or grub2-mkconfig
// (RHEL, Amazon Linux, Fedora) live.
var grubMkconfigs = []string{
	"usr/sbin/grub-mkconfig", "usr/sbin/grub2-mkconfig",
	"sbin/grub-mkconfig", "sbin/grub2-mkconfig",
}

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

// grubReadsDropIns reports whether grub-mkconfig sources
// /etc/default/grub.d/*.cfg: only Debian's and Ubuntu's do (a patch of
// theirs), and only if the directory exists. When the root has a
// grub-mkconfig, its text decides; without one (an image without GRUB
// tools yet), the directory's existence does.
func (c *Console) grubReadsDropIns() bool {
	if isDir, err := statDir(c.path(GrubDropInDir)); err != nil || !isDir {
		return false
	}
	for _, p := range grubMkconfigs {
		data, ok, err := c.read(p)
		if err == nil && ok {
			return bytes.Contains(data, []byte("/default/grub.d/"))
		}
	}
	return true
}

// grubFiles lists the GRUB defaults grub-mkconfig would source, in order.
func (c *Console) grubFiles() []string {
	files := []string{GrubDefaultPath}
	if !c.grubReadsDropIns() {
		return files
	}
	matches, _ := filepath.Glob(c.path(GrubDropInDir + "/*.cfg"))
	sort.Strings(matches)
	for _, m := range matches {
		rel, _ := filepath.Rel(c.Root, m)
		files = append(files, filepath.ToSlash(rel))
	}
	return files
}

// KernelConsole tells whether the kernel console is on dev, and where it
// looked: /proc/cmdline on the live system, the GRUB defaults grub would
// read (the main file, and its drop-ins where grub reads them) under
// another root.
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
	vars := grubVars{}
	for _, f := range c.grubFiles() {
		data, _, err := c.read(f)
		if err != nil {
			return false, "/" + f, err
		}
		vars.source(data, "/"+f)
	}
	for _, name := range []string{grubCmdlineLinux, grubCmdlineDefault} {
		if hasConsole(vars.value[name], dev) {
			return true, vars.from[name], nil
		}
	}
	return false, "/" + GrubDefaultPath, nil
}

// grubConsoleLine is the assignment fix_console adds: it appends to the
// value set before it, as grub-mkconfig sources the files in order.
func grubConsoleLine(dev string) string {
	return fmt.Sprintf(`%s="$%s console=%s,115200"`, grubCmdlineLinux, grubCmdlineLinux, dev)
}

// applyKernel checks the kernel console and, with FixConsole, adds it to
// the GRUB defaults. A console elsewhere is an error either way: it works
// only after the GRUB configuration is generated again and a reboot.
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
	where, err := c.fixGrub(dev)
	if err != nil {
		return nil, false, err
	}
	return nil, false, fmt.Errorf("kernel console is not on %s: console=%s,115200 added in %s; "+
		"run update-grub (RHEL: grub2-mkconfig -o /boot/grub2/grub.cfg, or grubby --update-kernel=ALL --args=console=%s,115200) and reboot",
		dev, dev, where, dev)
}

// fixGrub adds console=dev to GRUB_CMDLINE_LINUX: in our drop-in where
// grub reads /etc/default/grub.d, else in a marked block at the end of
// /etc/default/grub (every other byte kept; cleanup takes it out again).
// It never runs grub-mkconfig. It returns the file it changed.
func (c *Console) fixGrub(dev string) (string, error) {
	line := grubConsoleLine(dev)
	if c.grubReadsDropIns() {
		body := "# Added by serialpass (fix_console): the kernel console on the serial port.\n" +
			"# Takes effect after update-grub and a reboot; serialpass cleanup removes it.\n" + line + "\n"
		if err := c.write(GrubDropInPath, []byte(body), 0o644); err != nil {
			return "", err
		}
		if _, err := c.removeBlock(GrubDefaultPath); err != nil { // an earlier layout
			return "", err
		}
		return "/" + GrubDropInPath, nil
	}
	data, ok, err := c.read(GrubDefaultPath)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("kernel console is not on %s, and there are no GRUB defaults to fix (/%s): add console=%s to the kernel command line", dev, GrubDefaultPath, dev)
	}
	rest, _, err := stripBlock(data)
	if err != nil {
		return "", fmt.Errorf("/%s: %w", GrubDefaultPath, err)
	}
	// Last, so that no later assignment in the file undoes it.
	out := insertBlock(rest, len(rest), "fix_console adds the serial console; takes effect after grub-mkconfig and a reboot", []string{line})
	if !bytes.Equal(out, data) {
		if err := c.write(GrubDefaultPath, out, 0o644); err != nil {
			return "", err
		}
	}
	if _, err := c.remove(GrubDropInPath); err != nil { // written by an earlier version where grub.d is not read
		return "", err
	}
	return "/" + GrubDefaultPath, nil
}

// RemoveKernelFix takes out what fix_console added to the GRUB defaults
// (our drop-in, our block in /etc/default/grub), restoring the file byte
// for byte. The running kernel keeps its console until grub's
// configuration is generated again and the machine reboots.
func (c *Console) RemoveKernelFix() (warnings []string, err error) {
	dropIn, err1 := c.remove(GrubDropInPath)
	block, err2 := c.removeBlock(GrubDefaultPath)
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	if dropIn || block {
		warnings = append(warnings, "took the serial console that fix_console added out of the GRUB defaults; "+
			"it stays until update-grub (grub2-mkconfig) and a reboot")
	}
	return warnings, nil
}
