package secrets

import (
	"context"
	"crypto/rand"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/serialpass/serialpass/agent"
)

// Operation names, as Secrets Manager's API actions. Memory counts and
// faults calls under these names; both Get methods are GetSecretValue.
const (
	OpGetSecretValue           = "GetSecretValue"
	OpDescribeSecret           = "DescribeSecret"
	OpCreateSecret             = "CreateSecret"
	OpPutSecretValue           = "PutSecretValue"
	OpUpdateSecretVersionStage = "UpdateSecretVersionStage"
)

// maxVersions mirrors Secrets Manager's bound: beyond it, versions without
// a staging label are dropped.
const maxVersions = 100

// Memory is an in-memory agent.SecretAdmin with Secrets Manager's staging
// semantics. It is safe for concurrent use. The zero value is not usable:
// call NewMemory.
type Memory struct {
	mu      sync.Mutex
	secrets map[string]*memSecret // by name
	calls   map[string]int
	queued  map[string][]error
	fault   func(Call) error
	now     func() time.Time // stamps LastChanged
}

type memSecret struct {
	arn, name   string
	description string
	kmsKeyID    string
	tags        map[string]string
	versions    map[string]*memVersion
	order       []string // version ids, oldest first
	// lastChanged is set by every new version, as moto 5.2 does
	// (Secrets Manager may also count label moves and tag changes).
	lastChanged time.Time
}

type memVersion struct {
	id     string
	value  agent.Password
	stages []string
}

var (
	_ agent.SecretStore = (*Memory)(nil)
	_ agent.SecretAdmin = (*Memory)(nil)
)

// NewMemory returns an empty store.
func NewMemory() *Memory {
	return &Memory{
		secrets: map[string]*memSecret{},
		calls:   map[string]int{},
		queued:  map[string][]error{},
		now:     time.Now,
	}
}

// SetClock makes now the clock that stamps the secrets' LastChanged, for
// tests that run on a fake clock.
func (m *Memory) SetClock(now func() time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.now = now
}

// lookup finds a secret by name or ARN. Callers hold mu.
func (m *Memory) lookup(id string) (*memSecret, error) {
	if s, ok := m.secrets[id]; ok {
		return s, nil
	}
	for _, s := range m.secrets {
		if s.arn == id {
			return s, nil
		}
	}
	return nil, fmt.Errorf("secret %q: %w", id, agent.ErrSecretNotFound)
}

func (s *memSecret) version(v *memVersion) agent.SecretVersion {
	return agent.SecretVersion{
		ARN: s.arn, Name: s.name, VersionID: v.id,
		Stages: slices.Clone(v.stages), Value: v.value,
	}
}

// holder returns the version holding stage, or nil.
func (s *memSecret) holder(stage string) *memVersion {
	for _, id := range s.order {
		if v := s.versions[id]; slices.Contains(v.stages, stage) {
			return v
		}
	}
	return nil
}

// GetSecret returns the version of id holding stage (AWSCURRENT when
// stage is empty).
func (m *Memory) GetSecret(_ context.Context, id, stage string) (agent.SecretVersion, error) {
	if stage == "" {
		stage = agent.StageCurrent
	}
	var out agent.SecretVersion
	err := m.do(OpGetSecretValue, id, func() error {
		s, err := m.lookup(id)
		if err != nil {
			return err
		}
		v := s.holder(stage)
		if v == nil {
			return fmt.Errorf("secret %q stage %s: %w", id, stage, agent.ErrSecretNotFound)
		}
		out = s.version(v)
		return nil
	})
	return out, err
}

// GetSecretVersion returns version versionID of id.
func (m *Memory) GetSecretVersion(_ context.Context, id, versionID string) (agent.SecretVersion, error) {
	var out agent.SecretVersion
	err := m.do(OpGetSecretValue, id, func() error {
		s, err := m.lookup(id)
		if err != nil {
			return err
		}
		v, ok := s.versions[versionID]
		if !ok {
			return fmt.Errorf("secret %q version %s: %w", id, versionID, agent.ErrSecretNotFound)
		}
		out = s.version(v)
		return nil
	})
	return out, err
}

// DescribeSecret returns the labelled versions' stages, the tags and the
// last change.
func (m *Memory) DescribeSecret(_ context.Context, id string) (agent.SecretInfo, error) {
	var out agent.SecretInfo
	err := m.do(OpDescribeSecret, id, func() error {
		s, err := m.lookup(id)
		if err != nil {
			return err
		}
		out = agent.SecretInfo{ARN: s.arn, Name: s.name, Versions: map[string][]string{}, Tags: maps.Clone(s.tags), LastChanged: s.lastChanged}
		for id, v := range s.versions {
			// As in Secrets Manager, unlabelled (deprecated) versions
			// are left out.
			if len(v.stages) > 0 {
				out.Versions[id] = slices.Clone(v.stages)
			}
		}
		return nil
	})
	return out, err
}

// CreateSecret creates in.Name with a first AWSCURRENT version. Repeating
// the call with the same token and value returns that version.
func (m *Memory) CreateSecret(_ context.Context, in agent.NewSecret) (agent.SecretVersion, error) {
	var out agent.SecretVersion
	err := m.do(OpCreateSecret, in.Name, func() error {
		token, err := checkToken(in.Token)
		if err != nil {
			return err
		}
		if s, ok := m.secrets[in.Name]; ok {
			if v, ok := s.versions[token]; ok && v.value.Equal(in.Value) {
				out = s.version(v)
				return nil
			}
			return fmt.Errorf("creating secret %q: %w", in.Name, agent.ErrSecretExists)
		}
		s := &memSecret{
			arn:         fmt.Sprintf("arn:aws:secretsmanager:us-east-1:123456789012:secret:%s-%s", in.Name, rand.Text()[:6]),
			name:        in.Name,
			description: in.Description,
			kmsKeyID:    in.KMSKeyID,
			tags:        maps.Clone(in.Tags),
			versions:    map[string]*memVersion{},
		}
		v := s.add(token, in.Value)
		v.stages = []string{agent.StageCurrent}
		s.lastChanged = m.now().UTC()
		m.secrets[in.Name] = s
		out = s.version(v)
		return nil
	})
	return out, err
}

// CreateEmptySecret creates name with no version at all, as an operator
// (or Terraform's aws_secretsmanager_secret) may create a secret for
// rotate mode to fill.
func (m *Memory) CreateEmptySecret(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.secrets[name] = &memSecret{
		arn:      fmt.Sprintf("arn:aws:secretsmanager:us-east-1:123456789012:secret:%s-%s", name, rand.Text()[:6]),
		name:     name,
		versions: map[string]*memVersion{},
	}
}

// PutSecretValue stores value as version token. Without stages the
// version becomes AWSCURRENT, and so does a secret's first version. A stage given here leaves any other version;
// AWSCURRENT leaving a version puts AWSPREVIOUS there. Reusing a token with
// the same value does nothing; with another value it fails, wrapping
// agent.ErrSecretExists.
func (m *Memory) PutSecretValue(_ context.Context, id, token string, value agent.Password, stages []string) (string, error) {
	var out string
	err := m.do(OpPutSecretValue, id, func() error {
		s, err := m.lookup(id)
		if err != nil {
			return err
		}
		token, err := checkToken(token)
		if err != nil {
			return err
		}
		if v, ok := s.versions[token]; ok {
			if !v.value.Equal(value) {
				return fmt.Errorf("token %s is in use by another value of secret %q: %w", token, id, agent.ErrSecretExists)
			}
			out = token
			return nil
		}
		if len(stages) == 0 {
			stages = []string{agent.StageCurrent}
		}
		if len(s.versions) == 0 {
			// As in Secrets Manager, a secret's first version is
			// AWSCURRENT, whatever the stages asked for.
			stages = append(stages, agent.StageCurrent)
		}
		stages = slices.Compact(slices.Sorted(slices.Values(stages)))
		v := s.add(token, value)
		for _, st := range stages {
			s.attach(st, v)
		}
		s.lastChanged = m.now().UTC()
		s.prune()
		out = token
		return nil
	})
	return out, err
}

// UpdateSecretVersionStage moves stage to moveTo and off removeFrom. As in
// Secrets Manager, removeFrom is required when the stage is attached to a
// version other than moveTo, and AWSCURRENT cannot just be removed.
func (m *Memory) UpdateSecretVersionStage(_ context.Context, id, stage, moveTo, removeFrom string) error {
	return m.do(OpUpdateSecretVersionStage, id, func() error {
		s, err := m.lookup(id)
		if err != nil {
			return err
		}
		if moveTo == "" && removeFrom == "" {
			return fmt.Errorf("moving stage %s of %q: no version given: %w", stage, id, ErrInvalidRequest)
		}
		var to, from *memVersion
		if moveTo != "" {
			if to = s.versions[moveTo]; to == nil {
				return fmt.Errorf("moving stage %s of %q: version %s: %w", stage, id, moveTo, ErrInvalidRequest)
			}
		}
		if removeFrom != "" {
			if from = s.versions[removeFrom]; from == nil || !slices.Contains(from.stages, stage) {
				return fmt.Errorf("moving stage %s of %q: not on version %s: %w", stage, id, removeFrom, ErrInvalidRequest)
			}
		}
		if h := s.holder(stage); h != nil && h != to && h != from {
			return fmt.Errorf("moving stage %s of %q: it is on version %s, which must be given as the one to remove it from: %w", stage, id, h.id, ErrInvalidRequest)
		}
		if to == nil {
			if stage == agent.StageCurrent {
				return fmt.Errorf("removing %s of %q without moving it: %w", stage, id, ErrInvalidRequest)
			}
			from.stages = slices.DeleteFunc(from.stages, func(x string) bool { return x == stage })
			return nil
		}
		s.attach(stage, to)
		return nil
	})
}

// add appends a new version without stages. Callers hold mu.
func (s *memSecret) add(id string, value agent.Password) *memVersion {
	v := &memVersion{id: id, value: agent.NewPassword(string(value.Reveal()))}
	s.versions[id] = v
	s.order = append(s.order, id)
	return v
}

// attach puts stage on v alone; AWSCURRENT leaving a version leaves
// AWSPREVIOUS behind on it. Callers hold mu.
func (s *memSecret) attach(stage string, v *memVersion) {
	old := s.holder(stage)
	if old == v {
		return
	}
	if old != nil {
		old.stages = slices.DeleteFunc(old.stages, func(x string) bool { return x == stage })
	}
	v.stages = append(v.stages, stage)
	if stage == agent.StageCurrent && old != nil {
		s.attach(agent.StagePrevious, old)
	}
	if stage == agent.StageCurrent {
		v.stages = slices.DeleteFunc(v.stages, func(x string) bool { return x == agent.StagePrevious })
	}
}

// prune drops the oldest unlabelled versions beyond maxVersions.
func (s *memSecret) prune() {
	for i := 0; len(s.order) > maxVersions && i < len(s.order); {
		id := s.order[i]
		if len(s.versions[id].stages) > 0 {
			i++
			continue
		}
		delete(s.versions, id)
		s.order = slices.Delete(s.order, i, i+1)
	}
}

// checkToken validates a ClientRequestToken (32 to 64 characters, as the
// API requires) or makes one.
func checkToken(token string) (string, error) {
	if token == "" {
		return newToken(), nil
	}
	if len(token) < 32 || len(token) > 64 {
		return "", fmt.Errorf("client request token must be 32 to 64 characters, got %d: %w", len(token), ErrInvalidRequest)
	}
	return token, nil
}

// newToken returns a random UUID, the form the SDK uses for tokens.
func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
