package presence

import (
	"slices"
	"sync"
	"time"
)

// Memory is the single-instance Manager: two maps under one mutex.
type Memory struct {
	mu     sync.Mutex
	byUser map[string]map[string]struct{} // user id → sids
	seen   map[string]socketSeen          // sid → owner and last heartbeat
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
	}
}

func (m *Memory) Connect(userID, sid string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.seen[sid]; ok && old.userID != userID {
		m.removeLocked(old.userID, sid)
	}
	sids := m.byUser[userID]
	if sids == nil {
		sids = make(map[string]struct{}, 1)
		m.byUser[userID] = sids
	}
	sids[sid] = struct{}{}
	m.seen[sid] = socketSeen{userID: userID, at: time.Now()}
}

func (m *Memory) Disconnect(userID, sid string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.seen[sid]; ok && s.userID == userID {
		m.removeLocked(userID, sid)
	}
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

func (m *Memory) Touch(sid string, at time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.seen[sid]; ok {
		s.at = at
		m.seen[sid] = s
	}
}

func (m *Memory) Online() []string {
	m.mu.Lock()
	ids := make([]string, 0, len(m.byUser))
	for id := range m.byUser {
		ids = append(ids, id)
	}
	m.mu.Unlock()
	slices.Sort(ids)
	return ids
}
