package realtime

import "time"

// bucket is a token bucket: it refills at rate tokens a second up to burst,
// and every allowed event takes one. Worker-owned, so no lock.
type bucket struct {
	tokens float64
	last   time.Time
}

// take reports whether an event at now is within the limit.
func (b *bucket) take(now time.Time, rate float64, burst int) bool {
	if b.last.IsZero() {
		b.tokens = float64(burst)
	} else if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = min(float64(burst), b.tokens+el*rate)
	}
	if now.After(b.last) {
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// strikes counts a socket's refusals for exceeding a rate limit, leaking
// strikeLeak a second: a client somewhat over the limit (a held arrow key)
// never fills it, one that keeps sending far over it does within seconds.
type strikes struct {
	level float64
	last  time.Time
}

// strikeLeak is how many refusals a second a socket may get indefinitely.
const strikeLeak = 15

// add records a refusal at now and reports whether the level passed limit.
func (s *strikes) add(now time.Time, limit int) bool {
	if !s.last.IsZero() {
		if el := now.Sub(s.last).Seconds(); el > 0 {
			s.level = max(0, s.level-el*strikeLeak)
		}
	}
	if now.After(s.last) {
		s.last = now
	}
	s.level++
	return s.level > float64(limit)
}

// allowEvent (worker): the socket's budget for any event.
func (c *conn) allowEvent(now time.Time) bool {
	return c.eventRate.take(now, c.srv.cfg.EventRate, c.srv.cfg.EventBurst)
}

// allowAwareness (worker): the socket's awareness budget in docID.
func (c *conn) allowAwareness(docID string) bool {
	b := c.awRate[docID]
	if b == nil {
		if c.awRate == nil {
			c.awRate = make(map[string]*bucket, 1)
		}
		b = &bucket{}
		c.awRate[docID] = b
	}
	return b.take(c.srv.cfg.Now(), c.srv.cfg.AwarenessRate, c.srv.cfg.AwarenessBurst)
}

// rateLimited (worker) counts a refusal for going over a limit, and closes
// a socket that keeps going over it.
func (c *conn) rateLimited(now time.Time) {
	if c.kicked.Load() || !c.strikes.add(now, c.srv.cfg.MaxRateStrikes) {
		return
	}
	c.srv.met.closed.WithLabelValues(closeRateLimited).Inc()
	c.kick("kept sending over the rate limit", "strikes", c.srv.cfg.MaxRateStrikes)
}

// checkAuthenticated (worker) closes a socket that has not authenticated
// within Config.AuthTimeout.
func (c *conn) checkAuthenticated() {
	if c.user.Load() != nil || c.gone.Load() || c.kicked.Load() {
		return
	}
	c.srv.met.closed.WithLabelValues(closeAuthTimeout).Inc()
	c.kick("not authenticated in time", "timeout", c.srv.cfg.AuthTimeout)
}
