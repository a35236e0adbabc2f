package ydoc

import "sync"

// inbox is a document's bounded command queue. A slice that grows on
// demand instead of a buffered channel: a channel of InboxSize pointers
// costs 8 KB per live document even when idle.
type inbox struct {
	mu    sync.Mutex
	q     []*command
	max   int
	ready chan struct{} // has a value while q may be non-empty
}

func newInbox(max int) *inbox {
	return &inbox{max: max, ready: make(chan struct{}, 1)}
}

// push queues c unless the inbox is full. force ignores the bound (leaves:
// losing one would keep a session registered forever).
func (in *inbox) push(c *command, force bool) bool {
	in.mu.Lock()
	if len(in.q) >= in.max && !force {
		in.mu.Unlock()
		return false
	}
	in.q = append(in.q, c)
	in.mu.Unlock()
	in.signal()
	return true
}

func (in *inbox) signal() {
	select {
	case in.ready <- struct{}{}:
	default:
	}
}

// pop takes the oldest command, or nil.
func (in *inbox) pop() *command {
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(in.q) == 0 {
		return nil
	}
	c := in.q[0]
	in.q[0] = nil
	in.q = in.q[1:]
	if len(in.q) == 0 {
		in.q = nil // let the backing array go
	} else {
		in.signal()
	}
	return c
}

func (in *inbox) len() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.q)
}
