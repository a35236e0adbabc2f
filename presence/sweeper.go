package presence

import (
	"context"
	"sync"
	"time"
)

// sweeper runs a manager's Sweep on a ticker between Start and Stop; both
// managers (memory, Redis) expire sockets this way.
type sweeper struct {
	mu         sync.Mutex
	stop, done chan struct{}
}

// start begins sweeping every interval; a second start is a no-op.
func (s *sweeper) start(every time.Duration, sweep func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stop != nil {
		return
	}
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	go func(stop <-chan struct{}, done chan<- struct{}) {
		defer close(done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				sweep()
			}
		}
	}(s.stop, s.done)
}

// halt ends the sweeps and waits for the sweeper (or ctx). Idempotent;
// safe without start.
func (s *sweeper) halt(ctx context.Context) error {
	s.mu.Lock()
	stop, done := s.stop, s.done
	s.stop = nil
	s.mu.Unlock()
	if stop == nil {
		return nil
	}
	close(stop)
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
