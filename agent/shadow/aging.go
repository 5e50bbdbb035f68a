package shadow

import (
	"context"
	"fmt"
	"time"

	"github.com/serialpass/serialpass/agent"
)

// RemoveAging runs chage so that the account has no minimum or maximum
// password age, no inactivity period and no expiry date. A last-change
// date of 0, which forces a change at the next login, becomes today; any
// other is kept. The password field is not touched.
func (m *Manager) RemoveAging(ctx context.Context, name string) error {
	if err := agent.ValidUserName(name); err != nil {
		return fmt.Errorf("removing password aging of user %q: %w", name, err)
	}
	sh, ok, err := m.shadowEntry(name)
	switch {
	case err != nil:
		return fmt.Errorf("removing password aging of user %q: %w", name, err)
	case !ok:
		return fmt.Errorf("removing password aging of user %q: no entry in etc/shadow", name)
	}
	argv := append([]string{"chage"}, m.rootArgs()...)
	argv = append(argv, "--mindays", "0", "--maxdays", "-1", "--inactive", "-1", "--expiredate", "-1")
	if sh.LastChange == 0 {
		argv = append(argv, "--lastday", m.now().UTC().Format(time.DateOnly))
	}
	if _, err := m.run.Run(ctx, nil, append(argv, name)...); err != nil {
		return fmt.Errorf("removing password aging of user %q: %w", name, err)
	}
	return nil
}
