package auth

import (
	"sync"
	"time"
)

// LimiterConfig configures a Limiter.
type LimiterConfig struct {
	// Free is how many failures a key gets before backoff starts.
	Free int
	// Base is the first backoff; each further failure doubles it.
	Base time.Duration
	// Max caps the backoff, so a key (an account) is never locked for good.
	Max time.Duration
	// Forget drops a key this long after its last failure.
	Forget time.Duration
	// MaxKeys bounds memory: past it, forgotten keys are dropped, then the
	// key whose last failure is oldest.
	MaxKeys int
}

// Limiter counts failures per key (an address, an account) and answers how
// long a key must wait before it may try again.
type Limiter struct {
	cfg  LimiterConfig
	mu   sync.Mutex
	keys map[string]*failures
}

type failures struct {
	n    int
	last time.Time
}

// NewLimiter returns a Limiter for cfg.
func NewLimiter(cfg LimiterConfig) *Limiter {
	return &Limiter{cfg: cfg, keys: make(map[string]*failures)}
}

// Wait reports how long key must still wait at now; zero: it may try.
func (l *Limiter) Wait(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.keys[key]
	if f == nil {
		return 0
	}
	if now.Sub(f.last) >= l.cfg.Forget {
		delete(l.keys, key)
		return 0
	}
	if d := f.last.Add(l.backoff(f.n)).Sub(now); d > 0 {
		return d
	}
	return 0
}

// backoff is the wait after n failures.
func (l *Limiter) backoff(n int) time.Duration {
	over := n - l.cfg.Free
	if over <= 0 {
		return 0
	}
	d := l.cfg.Base
	for i := 1; i < over && d < l.cfg.Max; i++ {
		d *= 2
	}
	return min(d, l.cfg.Max)
}

// Fail records a failure of key at now.
func (l *Limiter) Fail(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.keys[key]
	if f != nil && now.Sub(f.last) >= l.cfg.Forget {
		f.n = 0
	}
	if f == nil {
		if len(l.keys) >= l.cfg.MaxKeys {
			l.evict(now)
		}
		f = &failures{}
		l.keys[key] = f
	}
	f.n++
	f.last = now
}

// Reset forgets key (a successful sign-in clears its account).
func (l *Limiter) Reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.keys, key)
}

// Len is the number of keys held.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.keys)
}

func (l *Limiter) evict(now time.Time) {
	var oldest string
	var at time.Time
	for k, f := range l.keys {
		if now.Sub(f.last) >= l.cfg.Forget {
			delete(l.keys, k)
			continue
		}
		if oldest == "" || f.last.Before(at) {
			oldest, at = k, f.last
		}
	}
	if len(l.keys) >= l.cfg.MaxKeys && oldest != "" {
		delete(l.keys, oldest)
	}
}
