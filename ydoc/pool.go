package ydoc

import "sync/atomic"

// maxIdleOwners bounds the goroutines that wait for the next document run.
const maxIdleOwners = 8

// ownerPool runs document owners (document.work) on goroutines that stay
// for the next run once theirs ends, up to maxIdleOwners of them. A fresh
// goroutine per run started on a small stack and grew it in every apply
// (y-crdt's decode is deep): runtime.copystack and newproc were ~7% of the
// server's CPU in bench S2 with owners started on demand. Never blocks: a
// run that finds no idle goroutine gets a new one.
type ownerPool struct {
	idle  chan func() // unbuffered: a send succeeds only to a waiting goroutine
	quit  chan struct{}
	nidle atomic.Int32
	live  atomic.Int32 // goroutines (tests)
}

func newOwnerPool() *ownerPool {
	return &ownerPool{idle: make(chan func()), quit: make(chan struct{})}
}

func (p *ownerPool) run(f func()) {
	select {
	case p.idle <- f:
	default:
		p.live.Add(1)
		go p.worker(f)
	}
}

func (p *ownerPool) worker(f func()) {
	defer p.live.Add(-1)
	for {
		f()
		if p.nidle.Add(1) > maxIdleOwners {
			p.nidle.Add(-1)
			return
		}
		select {
		case f = <-p.idle:
			p.nidle.Add(-1)
		case <-p.quit:
			p.nidle.Add(-1)
			return
		}
	}
}

// close lets the idle goroutines exit (Manager.Stop, once no owner is left).
func (p *ownerPool) close() { close(p.quit) }
