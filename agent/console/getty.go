package console

import (
	"context"
	"fmt"
	"os"
)

// GettyState is what systemd's configuration says of serial-getty@<dev>.
type GettyState struct {
	Unit   string
	Masked bool // the instance or the template is linked to /dev/null
	// MaskedUnits names the masked units (the instance, the template).
	MaskedUnits []string
	Enabled     bool // wanted by getty.target or multi-user.target
}

// Getty inspects serial-getty@dev under the root. The unit may be neither
// masked nor enabled and still run: systemd's getty generator starts it
// for a kernel console on dev.
func (c *Console) Getty(dev string) GettyState {
	unit := "serial-getty@" + dev + ".service"
	s := GettyState{Unit: unit}
	for _, dir := range []string{"etc/systemd/system", "run/systemd/system"} {
		for _, name := range []string{unit, "serial-getty@.service"} {
			if t, err := os.Readlink(c.path(dir + "/" + name)); err == nil && t == "/dev/null" {
				s.Masked = true
				s.MaskedUnits = append(s.MaskedUnits, name)
			}
		}
	}
	for _, target := range []string{"getty.target.wants", "multi-user.target.wants"} {
		if c.exists("etc/systemd/system/" + target + "/" + unit) {
			s.Enabled = true
		}
	}
	return s
}

// applyGetty reports a masked getty, or a disabled one that nothing else
// starts, and fixes it when EnableGetty allows.
func (c *Console) applyGetty(ctx context.Context, o Options, kernelOK bool) ([]string, error) {
	s := c.Getty(o.Device())
	switch {
	case s.Masked && !o.EnableGetty:
		return nil, fmt.Errorf("%s is masked: no login prompt on the serial console (set enable_getty: true or run systemctl unmask %s)", s.Unit, s.Unit)
	case !s.Masked && (s.Enabled || kernelOK):
		return nil, nil
	case !o.EnableGetty:
		return []string{fmt.Sprintf("%s is disabled and the kernel console is elsewhere: set enable_getty: true or run systemctl enable %s", s.Unit, s.Unit)}, nil
	}
	if s.Masked {
		if err := c.systemctl(ctx, "unmask", s.MaskedUnits...); err != nil {
			return nil, err
		}
	}
	if err := c.systemctl(ctx, "enable", s.Unit); err != nil {
		return nil, err
	}
	if c.live() {
		if err := c.systemctl(ctx, "start", "--no-block", s.Unit); err != nil {
			return nil, err
		}
	}
	return []string{"enabled " + s.Unit}, nil
}

// systemctl runs systemctl verb args, with --root under another root.
func (c *Console) systemctl(ctx context.Context, verb string, args ...string) error {
	argv := []string{"systemctl"}
	if !c.live() {
		argv = append(argv, "--root="+c.Root)
	}
	argv = append(append(argv, verb), args...)
	if _, err := c.Run.Run(ctx, nil, argv...); err != nil {
		return fmt.Errorf("systemctl %s %v: %w", verb, args, err)
	}
	return nil
}
