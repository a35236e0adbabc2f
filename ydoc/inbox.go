package ydoc

import "sync"

// Events a document's owner handles besides commands (inbox.events).
const (
	evKick  uint8 = 1 << iota // the writer finished some of its requests
	evTimer                   // its timer fired: see what is due (timer.go)
	evStop                    // Manager.Stop: finish what was accepted, then unload
)

// inbox is a document's bounded command queue and the rest of its mail
// (events, results of background work). It also starts the owner: a
// document has an owner goroutine only while it has mail, as a socket has
// a worker only while it has tasks (realtime conn.enqueue/work). An owner
// parked on a select cost every loaded document ~4 KB of stack (issue 13:
// 1,000 documents loaded, nearly all idle). A slice that grows on demand
// instead of a buffered channel: a channel of InboxSize pointers costs 8 KB
// per live document even when idle.
type inbox struct {
	mu      sync.Mutex
	q       []*command
	max     int
	events  uint8
	bg      []func() // results of background work, run on the owner
	running bool     // an owner goroutine is running, or started
	exited  bool     // the document is done: start no owner again
	owner   func()   // the owner's body (document.work)
	spawn   func(func())
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
	in.startLocked()
	in.mu.Unlock()
	return true
}

// signal posts events to the owner.
func (in *inbox) signal(ev uint8) {
	in.mu.Lock()
	in.events |= ev
	in.startLocked()
	in.mu.Unlock()
}

// post has the owner run f (results of background work, tests).
func (in *inbox) post(f func()) {
	in.mu.Lock()
	in.bg = append(in.bg, f)
	in.startLocked()
	in.mu.Unlock()
}

// startLocked starts an owner goroutine unless one runs (it will see the
// new mail before it exits: take) or the document is done.
func (in *inbox) startLocked() {
	if in.running || in.exited {
		return
	}
	in.running = true
	in.spawn(in.owner)
}

// take returns the mail for one round of the owner: every event and
// background result, and the oldest command. Nothing: the owner is no
// longer running (ok false) and must return; the next mail starts another.
func (in *inbox) take() (c *command, ev uint8, bg []func(), ok bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(in.q) == 0 && in.events == 0 && len(in.bg) == 0 {
		in.running = false
		return nil, 0, nil, false
	}
	ev, bg = in.events, in.bg
	in.events, in.bg = 0, nil
	return in.popLocked(), ev, bg, true
}

// exit marks the document done: no owner starts again.
func (in *inbox) exit() {
	in.mu.Lock()
	in.exited, in.running = true, false
	in.bg = nil
	in.mu.Unlock()
}

// pop takes the oldest command, or nil.
func (in *inbox) pop() *command {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.popLocked()
}

func (in *inbox) popLocked() *command {
	if len(in.q) == 0 {
		return nil
	}
	c := in.q[0]
	in.q[0] = nil
	in.q = in.q[1:]
	if len(in.q) == 0 {
		in.q = nil // let the backing array go
	}
	return c
}

func (in *inbox) len() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.q)
}
