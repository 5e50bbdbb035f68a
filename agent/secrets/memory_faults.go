package secrets

// Memory's test controls: counting calls and injecting faults.

// Call describes one Memory call to a fault hook. The hook runs once
// before the call takes effect (After false) and once after (After true);
// an error returned after the effect simulates a lost response.
type Call struct {
	Op       string
	SecretID string
	After    bool
}

// SetFault installs a hook called before and after every call; a non-nil
// error fails the call. Pass nil to remove it. The hook may call Memory.
func (m *Memory) SetFault(f func(Call) error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fault = f
}

// FailNext makes the next len(errs) calls of op fail, in order, before they
// take effect.
func (m *Memory) FailNext(op string, errs ...error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.queued[op] = append(m.queued[op], errs...)
}

// Calls returns how many times op was called, failed calls included.
func (m *Memory) Calls(op string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls[op]
}

// ResetCalls zeroes the call counters.
func (m *Memory) ResetCalls() {
	m.mu.Lock()
	defer m.mu.Unlock()
	clear(m.calls)
}

// do counts the call, runs faults, and applies fn under the lock.
func (m *Memory) do(op, id string, fn func() error) error {
	m.mu.Lock()
	m.calls[op]++
	if q := m.queued[op]; len(q) > 0 {
		m.queued[op] = q[1:]
		m.mu.Unlock()
		return q[0]
	}
	fault := m.fault
	m.mu.Unlock()
	if fault != nil {
		if err := fault(Call{Op: op, SecretID: id}); err != nil {
			return err
		}
	}
	m.mu.Lock()
	err := fn()
	m.mu.Unlock()
	if err != nil {
		return err
	}
	if fault != nil {
		return fault(Call{Op: op, SecretID: id, After: true})
	}
	return nil
}
