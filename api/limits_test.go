package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/api"
	"github.com/quire/quire/quiretest"
	"github.com/quire/quire/server"
)

// clock is a server clock the test moves forward by hand.
type clock struct{ offset atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) advance(d time.Duration) { c.offset.Add(int64(d)) }

func signin(s *quiretest.Server, email, pw string) quiretest.Response {
	return s.Do("POST", "/api/v1/auths/signin", "", map[string]string{"email": email, "password": pw})
}

// TestSignInBackoff: 40 wrong passwords in a row are answered 429 with a
// Retry-After once the free failures are spent, the right password too; once
// the (capped) wait has passed, the right password works.
func TestSignInBackoff(t *testing.T) {
	t.Parallel()
	var c clock
	s := quiretest.New(t, quiretest.WithConfig(func(cfg *server.Config) { cfg.Now = c.now }))
	ada := s.SignUp("Ada")

	var refused int
	for i := 0; i < 40; i++ {
		r := signin(s, ada.Email, "wrong password")
		if i < 5 {
			require.Equal(t, http.StatusUnauthorized, r.Status, "failure %d is free", i+1)
			continue
		}
		require.Equal(t, http.StatusTooManyRequests, r.Status, "attempt %d: %s", i+1, r.Body)
		require.NotEmpty(t, r.Header.Get("Retry-After"))
		require.NotEmpty(t, r.Detail())
		refused++
	}
	require.Equal(t, 35, refused)
	r := signin(s, ada.Email, quiretest.Password)
	require.Equal(t, http.StatusTooManyRequests, r.Status, "the right password waits too")

	c.advance(15 * time.Minute) // the cap: nobody is locked out for longer
	s.SignIn(ada.Email)
	// Success cleared the account: its next failure is free again.
	require.Equal(t, http.StatusUnauthorized, signin(s, ada.Email, "wrong again").Status)
}

// TestSignInBackoffPerAddress: failures spread over many accounts from one
// address are limited by the address (when loopback is limited, as here).
func TestSignInBackoffPerAddress(t *testing.T) {
	t.Parallel()
	var c clock
	s := quiretest.New(t, quiretest.WithConfig(func(cfg *server.Config) {
		cfg.Now = c.now
		cfg.AuthLimits.LimitLoopback = true
	}))
	for i := 0; i < 5; i++ {
		require.Equal(t, http.StatusUnauthorized, signin(s, fmt.Sprintf("who%d@example.com", i), "x").Status)
	}
	r := signin(s, "other@example.com", "x")
	require.Equal(t, http.StatusTooManyRequests, r.Status, "%s", r.Body)
	require.NotEmpty(t, r.Header.Get("Retry-After"))
	c.advance(time.Second)
	require.Equal(t, http.StatusUnauthorized, signin(s, "other@example.com", "x").Status)
}

// TestSignUpPerAddress: past SignupsPerAddress an address waits.
func TestSignUpPerAddress(t *testing.T) {
	t.Parallel()
	var c clock
	s := quiretest.New(t, quiretest.WithConfig(func(cfg *server.Config) {
		cfg.Now = c.now
		cfg.AuthLimits.SignupsPerAddress = 3
		cfg.AuthLimits.LimitLoopback = true
	}))
	for i := 0; i < 3; i++ {
		s.SignUp("U")
	}
	r := s.Do("POST", "/api/v1/auths/signup", "", map[string]string{"name": "V", "email": "v@example.com", "password": quiretest.Password})
	require.Equal(t, http.StatusTooManyRequests, r.Status, "%s", r.Body)
	require.NotEmpty(t, r.Header.Get("Retry-After"))
	c.advance(time.Second)
	s.JSON("POST", "/api/v1/auths/signup", "", map[string]string{"name": "V", "email": "v@example.com", "password": quiretest.Password}, http.StatusOK, nil)
}

// TestSignInHashesOnce: every sign-in computes exactly one password hash,
// whether the email is known or not and whatever the password's length, so
// its cost does not tell a known email from an unknown one.
func TestSignInHashesOnce(t *testing.T) {
	t.Parallel()
	var hashes atomic.Int64
	s := quiretest.New(t, quiretest.WithConfig(func(cfg *server.Config) {
		cfg.AuthLimits = api.AuthLimits{OnHash: func() { hashes.Add(1) }, FreeFailures: 100}
	}))
	ada := s.SignUp("Ada")
	long := strings.Repeat("p", api.MaxPasswordBytes+1)
	for _, tc := range []struct{ email, pw string }{
		{ada.Email, long}, {"nobody@example.com", long},
		{ada.Email, "wrong password"}, {"nobody@example.com", "wrong password"},
		{"", "x"}, {ada.Email, ""},
	} {
		before := hashes.Load()
		require.Equal(t, http.StatusUnauthorized, signin(s, tc.email, tc.pw).Status)
		require.Equal(t, int64(1), hashes.Load()-before, "email %q, password of %d bytes", tc.email, len(tc.pw))
	}
	before := hashes.Load()
	s.SignIn(ada.Email)
	require.Equal(t, int64(1), hashes.Load()-before)
}

// TestHashBound: with one hash slot held, another sign-in waits HashWait,
// then gets 503 with a Retry-After; once the slot is free sign-in works.
func TestHashBound(t *testing.T) {
	t.Parallel()
	var block atomic.Bool
	entered, release := make(chan struct{}), make(chan struct{})
	s := quiretest.New(t, quiretest.WithConfig(func(cfg *server.Config) {
		cfg.AuthLimits = api.AuthLimits{MaxConcurrentHashes: 1, HashWait: 50 * time.Millisecond, OnHash: func() {
			if block.CompareAndSwap(true, false) {
				entered <- struct{}{}
				<-release
			}
		}}
	}))
	ada := s.SignUp("Ada")
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	t.Cleanup(free) // a failing assertion must not leave the holder blocked
	block.Store(true)
	var wg sync.WaitGroup
	var held quiretest.Response
	wg.Add(1)
	go func() {
		defer wg.Done()
		held = signin(s, ada.Email, "wrong password")
	}()
	<-entered
	r := signin(s, ada.Email, quiretest.Password)
	require.Equal(t, http.StatusServiceUnavailable, r.Status, "%s", r.Body)
	require.NotEmpty(t, r.Header.Get("Retry-After"))
	require.NotEmpty(t, r.Detail())
	free()
	wg.Wait()
	require.Equal(t, http.StatusUnauthorized, held.Status)
	s.SignIn(ada.Email)
}

// TestSignInNoAccountStateForImpossibleEmails: an email that cannot name an
// account (longer than MaxEmailBytes) gets no per-account backoff, since
// there is no account to protect: each failure used to keep the email as
// sent (up to the 64 KiB body) as a limiter key, and 100,000 of them, the
// limiter's cap, held gigabytes. A possible email is still limited.
func TestSignInNoAccountStateForImpossibleEmails(t *testing.T) {
	t.Parallel()
	s := quiretest.New(t, quiretest.WithConfig(func(cfg *server.Config) {
		cfg.AuthLimits = api.AuthLimits{FreeFailures: 1} // loopback: only the account key applies
	}))
	s.SignUp("Ada")
	huge := strings.Repeat("a", 60<<10) + "@example.com"
	for i := 0; i < 3; i++ {
		r := signin(s, huge, "wrong password")
		require.Equal(t, http.StatusUnauthorized, r.Status, "attempt %d: %s", i+1, r.Body)
	}
	require.Equal(t, http.StatusUnauthorized, signin(s, "nobody@example.com", "x").Status)
	require.Equal(t, http.StatusTooManyRequests, signin(s, "nobody@example.com", "x").Status, "a possible email is limited")
	require.Equal(t, http.StatusTooManyRequests, signin(s, "  NOBODY@example.com ", "x").Status, "as it is normalised")
}
