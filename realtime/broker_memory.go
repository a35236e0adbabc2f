package realtime

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
)

// MemoryBus connects the MemoryBrokers of one process. A single server
// uses NewMemoryBroker, which has a bus of its own; tests put several
// instances on one bus to exercise what several servers do without Redis.
type MemoryBus struct {
	mu        sync.Mutex
	instances map[string]*MemoryBroker
	// list is instances as a slice, replaced on every change, so Publish
	// reads it without a lock or an allocation.
	list atomic.Pointer[[]*MemoryBroker]
}

// NewMemoryBus returns an empty bus.
func NewMemoryBus() *MemoryBus { return &MemoryBus{instances: map[string]*MemoryBroker{}} }

// MemoryBroker is the in-process Broker. Delivery is synchronous: Publish
// calls each subscribed instance's handler in the caller's goroutine, so
// one publisher's messages arrive in order and nothing is queued.
type MemoryBroker struct {
	bus *MemoryBus
	id  string

	mu      sync.RWMutex
	h       BrokerHandler // nil until Start
	rooms   map[string]struct{}
	stopped bool
}

var _ Broker = (*MemoryBroker)(nil)

// NewMemoryBroker returns the broker of a single instance.
func NewMemoryBroker(instance string) *MemoryBroker { return NewMemoryBus().Broker(instance) }

// Broker returns the bus's broker for instance, making it on first use.
func (b *MemoryBus) Broker(instance string) *MemoryBroker {
	b.mu.Lock()
	defer b.mu.Unlock()
	if m, ok := b.instances[instance]; ok {
		return m
	}
	m := &MemoryBroker{bus: b, id: instance, rooms: map[string]struct{}{}}
	b.instances[instance] = m
	b.relist()
	return m
}

// relist rebuilds list; b.mu is held.
func (b *MemoryBus) relist() {
	l := make([]*MemoryBroker, 0, len(b.instances))
	for _, m := range b.instances {
		l = append(l, m)
	}
	b.list.Store(&l)
}

// Start implements Broker.
func (m *MemoryBroker) Start(_ context.Context, h BrokerHandler) error {
	if h == nil {
		return errors.New("realtime: broker handler is nil")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopped {
		return ErrBrokerStopped
	}
	if m.h != nil {
		return errors.New("realtime: broker already started")
	}
	m.h = h
	return nil
}

// Publish implements Broker.
func (m *MemoryBroker) Publish(_ context.Context, msg Message) error {
	if msg.Room == "" {
		return errors.New("realtime: publish to an empty room name")
	}
	if !m.live() {
		return ErrBrokerStopped
	}
	for _, to := range m.bus.all() {
		if h := to.handlerFor(msg.Room); h != nil {
			h.HandleMessage(msg)
		}
	}
	return nil
}

// Command implements Broker.
func (m *MemoryBroker) Command(_ context.Context, c Command) error {
	if !m.live() {
		return ErrBrokerStopped
	}
	for _, to := range m.bus.all() {
		if h := to.handlerFor(""); h != nil {
			h.HandleCommand(c)
		}
	}
	return nil
}

// CommandWait implements Broker: Command has run every handler when it
// returns, so there is nothing to wait for.
func (m *MemoryBroker) CommandWait(ctx context.Context, c Command) error { return m.Command(ctx, c) }

// Subscribe implements Broker.
func (m *MemoryBroker) Subscribe(_ context.Context, room string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopped {
		return ErrBrokerStopped
	}
	m.rooms[room] = struct{}{}
	return nil
}

// Unsubscribe implements Broker.
func (m *MemoryBroker) Unsubscribe(_ context.Context, room string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopped {
		return ErrBrokerStopped
	}
	delete(m.rooms, room)
	return nil
}

// Stop implements Broker; it also takes the instance off its bus.
func (m *MemoryBroker) Stop(context.Context) error {
	m.mu.Lock()
	m.stopped, m.h, m.rooms = true, nil, map[string]struct{}{}
	m.mu.Unlock()
	m.bus.mu.Lock()
	if m.bus.instances[m.id] == m {
		delete(m.bus.instances, m.id)
		m.bus.relist()
	}
	m.bus.mu.Unlock()
	return nil
}

func (m *MemoryBroker) live() bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return !m.stopped && m.h != nil
}

// handlerFor is the handler to deliver to when the instance is started and
// subscribed to room ("" for commands, which every instance takes), or nil.
func (m *MemoryBroker) handlerFor(room string) BrokerHandler {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if room != "" {
		if _, ok := m.rooms[room]; !ok {
			return nil
		}
	}
	return m.h
}

// all is the bus's instances; handlers run without the bus's lock.
func (b *MemoryBus) all() []*MemoryBroker {
	if l := b.list.Load(); l != nil {
		return *l
	}
	return nil
}
