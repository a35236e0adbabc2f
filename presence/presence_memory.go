package presence

import (
	"context"
	"slices"
	"sync"
	"time"
)

// SweepIntervalDefault is how often a started Memory forgets expired
// sockets.
const SweepIntervalDefault = 30 * time.Second

// Memory is the single-instance Manager: a few maps under one mutex.
// Online and Models skip what expired at once; Sweep (run periodically
// between Start and Stop) deletes it.
type Memory struct {
	// Now is the clock; nil: time.Now. Set before first use.
	Now func() time.Time
	// Timeout: a socket silent for longer is expired; zero: TimeoutDefault.
	Timeout time.Duration
	// UsageTimeout: a model is in use this long after a socket's latest
	// UseModel; zero: UsageTimeoutDefault.
	UsageTimeout time.Duration
	// SweepInterval between Start's sweeps; zero: SweepIntervalDefault.
	SweepInterval time.Duration

	mu     sync.Mutex
	byUser map[string]map[string]struct{}  // user id → sids
	seen   map[string]socketSeen           // sid → owner and last heartbeat
	usage  map[string]map[string]time.Time // sid → model → latest UseModel

	sweeps sweeper // Start and Stop
}

type socketSeen struct {
	userID string
	at     time.Time
}

var _ Manager = (*Memory)(nil)

// NewMemory returns an empty in-process Manager.
func NewMemory() *Memory {
	return &Memory{
		byUser: make(map[string]map[string]struct{}),
		seen:   make(map[string]socketSeen),
		usage:  make(map[string]map[string]time.Time),
	}
}

func (m *Memory) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

func (m *Memory) timeout() time.Duration {
	if m.Timeout > 0 {
		return m.Timeout
	}
	return TimeoutDefault
}

func (m *Memory) usageTimeout() time.Duration {
	if m.UsageTimeout > 0 {
		return m.UsageTimeout
	}
	return UsageTimeoutDefault
}

// Connect implements Manager.
func (m *Memory) Connect(_ context.Context, userID, sid string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.liveLocked(userID, sid)
	return nil
}

// liveLocked records sid as userID's, live now.
func (m *Memory) liveLocked(userID, sid string) {
	if old, ok := m.seen[sid]; ok && old.userID != userID {
		m.removeLocked(old.userID, sid)
	}
	sids := m.byUser[userID]
	if sids == nil {
		sids = make(map[string]struct{}, 1)
		m.byUser[userID] = sids
	}
	sids[sid] = struct{}{}
	m.seen[sid] = socketSeen{userID: userID, at: m.now()}
}

// Disconnect implements Manager.
func (m *Memory) Disconnect(_ context.Context, userID, sid string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.seen[sid]; ok && s.userID == userID {
		m.removeLocked(userID, sid)
	}
	delete(m.usage, sid)
	return nil
}

func (m *Memory) removeLocked(userID, sid string) {
	delete(m.seen, sid)
	if sids := m.byUser[userID]; sids != nil {
		delete(sids, sid)
		if len(sids) == 0 {
			delete(m.byUser, userID)
		}
	}
}

// Touch implements Manager.
func (m *Memory) Touch(_ context.Context, userID, sid string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.liveLocked(userID, sid)
	return nil
}

// UseModel implements Manager.
func (m *Memory) UseModel(_ context.Context, sid, model string) error {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	models := m.usage[sid]
	if models == nil {
		models = make(map[string]time.Time, 1)
		m.usage[sid] = models
	}
	models[model] = now
	return nil
}

// Models implements Manager.
func (m *Memory) Models(context.Context) ([]string, error) {
	oldest := m.now().Add(-m.usageTimeout())
	m.mu.Lock()
	in := make(map[string]struct{})
	for _, models := range m.usage {
		for model, at := range models {
			if !at.Before(oldest) {
				in[model] = struct{}{}
			}
		}
	}
	m.mu.Unlock()
	out := make([]string, 0, len(in))
	for model := range in {
		out = append(out, model)
	}
	slices.Sort(out)
	return out, nil
}

// Online implements Manager.
func (m *Memory) Online(context.Context) ([]string, error) {
	oldest := m.now().Add(-m.timeout())
	m.mu.Lock()
	ids := make([]string, 0, len(m.byUser))
	for id, sids := range m.byUser {
		for sid := range sids {
			if !m.seen[sid].at.Before(oldest) {
				ids = append(ids, id)
				break
			}
		}
	}
	m.mu.Unlock()
	slices.Sort(ids)
	return ids, nil
}

// Owns implements Manager.
func (m *Memory) Owns(_ context.Context, userID, sid string) (bool, error) {
	oldest := m.now().Add(-m.timeout())
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.seen[sid]
	return ok && s.userID == userID && !s.at.Before(oldest), nil
}

// Sockets is the number of sockets held, expired ones included until swept.
func (m *Memory) Sockets() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.seen)
}

// Sweep deletes the expired sockets and model uses.
func (m *Memory) Sweep() {
	now := m.now()
	oldest, oldestUse := now.Add(-m.timeout()), now.Add(-m.usageTimeout())
	m.mu.Lock()
	defer m.mu.Unlock()
	for sid, s := range m.seen {
		if s.at.Before(oldest) {
			m.removeLocked(s.userID, sid)
		}
	}
	for sid, models := range m.usage {
		for model, at := range models {
			if at.Before(oldestUse) {
				delete(models, model)
			}
		}
		if len(models) == 0 {
			delete(m.usage, sid)
		}
	}
}

// Start sweeps every SweepInterval until Stop. Idempotent.
func (m *Memory) Start(context.Context) error {
	every := m.SweepInterval
	if every <= 0 {
		every = SweepIntervalDefault
	}
	m.sweeps.start(every, m.Sweep)
	return nil
}

// Stop ends the sweeps started by Start and waits for the sweeper (or ctx).
// Idempotent; safe without Start.
func (m *Memory) Stop(ctx context.Context) error { return m.sweeps.halt(ctx) }
