package realtime

import (
	"sync"
	"time"
)

// touchEvery is how often a heartbeat may write an account's
// last_active_at: every socket of every tab sends one each 30 s, and
// last_active_at needs no finer grain than this.
const touchEvery = 10 * time.Second

// touchLimiter decides which heartbeats write last_active_at: at most one
// per account per touchEvery. The zero value is ready.
type touchLimiter struct {
	mu    sync.Mutex
	last  map[string]time.Time // user id → last write
	prune int                  // prune stale entries when last reaches this size
}

// allow reports whether userID's last_active_at is due a write at now, and
// if so records it.
func (l *touchLimiter) allow(userID string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if at, ok := l.last[userID]; ok && now.Sub(at) < touchEvery {
		return false
	}
	if l.last == nil {
		l.last = make(map[string]time.Time)
	}
	if len(l.last) >= l.prune { // amortised: entries past touchEvery decide nothing
		for id, at := range l.last {
			if now.Sub(at) >= touchEvery {
				delete(l.last, id)
			}
		}
		l.prune = max(1024, 2*len(l.last))
	}
	l.last[userID] = now
	return true
}
