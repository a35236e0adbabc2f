package api

import (
	"cmp"
	"context"
	"errors"
	"math"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"time"

	"github.com/quire/quire/auth"
)

// AuthLimits bound sign-in and sign-up abuse. Zero fields take the defaults.
type AuthLimits struct {
	// FreeFailures is how many failed sign-ins in a row an address or an
	// account gets; the next attempt waits BaseBackoff, doubled by each
	// further failure. Default 5.
	FreeFailures int
	// SignupsPerAddress is how many sign-ups an address gets without a wait
	// (forgotten after 2 × MaxBackoff of quiet). Default 30.
	SignupsPerAddress int
	// BaseBackoff is the first wait. Default 1 s.
	BaseBackoff time.Duration
	// MaxBackoff caps the wait, so nobody locks a real account for good.
	// Default 15 min.
	MaxBackoff time.Duration
	// MaxConcurrentHashes bounds password hashes in flight (argon2id takes
	// 19 MiB each). Default 2 × GOMAXPROCS.
	MaxConcurrentHashes int
	// HashWait is how long a request waits for a hash slot before a 503.
	// Default 2 s.
	HashWait time.Duration
	// LimitLoopback applies the per-address limits to loopback addresses
	// too. Off by default: behind a reverse proxy on the same machine every
	// client comes from loopback, and one address's backoff would lock out
	// everyone (the per-account limit still applies).
	LimitLoopback bool
	// OnHash, if set, is called for every password hash computed (tests
	// count them).
	OnHash func()
}

func (l AuthLimits) withDefaults() AuthLimits {
	l.FreeFailures = cmp.Or(l.FreeFailures, 5)
	l.SignupsPerAddress = cmp.Or(l.SignupsPerAddress, 30)
	l.BaseBackoff = cmp.Or(l.BaseBackoff, time.Second)
	l.MaxBackoff = cmp.Or(l.MaxBackoff, 15*time.Minute)
	l.MaxConcurrentHashes = cmp.Or(l.MaxConcurrentHashes, 2*runtime.GOMAXPROCS(0))
	l.HashWait = cmp.Or(l.HashWait, 2*time.Second)
	return l
}

// limitMaxKeys bounds each limiter's memory.
const limitMaxKeys = 100_000

type limits struct {
	cfg     AuthLimits
	signin  *auth.Limiter // keys "addr:<ip>" and "acct:<email>"
	signup  *auth.Limiter // keys: addresses
	hashing chan struct{} // one token per hash in flight
}

func newLimits(cfg AuthLimits) (*limits, error) {
	cfg = cfg.withDefaults()
	if cfg.FreeFailures < 1 || cfg.SignupsPerAddress < 1 || cfg.BaseBackoff < 0 ||
		cfg.MaxBackoff < cfg.BaseBackoff || cfg.MaxConcurrentHashes < 0 || cfg.HashWait < 0 {
		return nil, errors.New("api: AuthLimits must be positive, and MaxBackoff not below BaseBackoff")
	}
	lc := func(free int) *auth.Limiter {
		// After free attempts the next one waits; a key is forgotten once it
		// has been quiet for twice the cap.
		return auth.NewLimiter(auth.LimiterConfig{Free: free - 1, Base: cfg.BaseBackoff, Max: cfg.MaxBackoff,
			Forget: 2 * cfg.MaxBackoff, MaxKeys: limitMaxKeys})
	}
	return &limits{cfg: cfg, signin: lc(cfg.FreeFailures), signup: lc(cfg.SignupsPerAddress),
		hashing: make(chan struct{}, cfg.MaxConcurrentHashes)}, nil
}

// clientAddr is the request's peer address without its port, and whether
// the per-address limits apply to it.
func (a *API) clientAddr(r *http.Request) (string, bool) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() && !a.limits.cfg.LimitLoopback {
		return host, false
	}
	return host, true
}

// waitIf is how long key must wait on l; zero when it is exempt (!applies).
func waitIf(l *auth.Limiter, key string, applies bool, now time.Time) time.Duration {
	if !applies {
		return 0
	}
	return l.Wait(key, now)
}

// tooMany answers 429 when any of waits is positive and reports whether it did.
func tooMany(w http.ResponseWriter, waits ...time.Duration) bool {
	d := max(0, waits[0])
	for _, x := range waits[1:] {
		d = max(d, x)
	}
	if d <= 0 {
		return false
	}
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(d.Seconds()))))
	writeError(w, http.StatusTooManyRequests, "Too many attempts; try again later")
	return true
}

// hash runs fn holding a hash slot; past HashWait without one it answers
// 503 and reports false.
func (a *API) hash(w http.ResponseWriter, r *http.Request, fn func()) bool {
	ctx, cancel := context.WithTimeout(r.Context(), a.limits.cfg.HashWait)
	defer cancel()
	select {
	case a.limits.hashing <- struct{}{}:
	case <-ctx.Done():
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "The server is busy; try again shortly")
		return false
	}
	defer func() { <-a.limits.hashing }()
	if a.limits.cfg.OnHash != nil {
		a.limits.cfg.OnHash()
	}
	fn()
	return true
}
