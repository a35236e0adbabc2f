package realtime_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quire/quire/auth"
	"github.com/quire/quire/realtime"
	"github.com/quire/quire/storage"
)

// failingCheck fails check number nth of token with err.
type failingCheck struct {
	realtime.Verifier
	token string
	nth   int32
	err   error
	calls atomic.Int32
}

func (v *failingCheck) Verify(ctx context.Context, token string) (*storage.User, *auth.Claims, error) {
	if token == v.token && v.calls.Add(1) == v.nth {
		return nil, nil, v.err
	}
	return v.Verifier.Verify(ctx, token)
}

// A user-join whose token cannot be checked (storage timed out or is
// down) is not told its token was refused: the ack says "unavailable"
// (try again), and the log says the check failed. On adopt's second check
// the socket is dropped all the same (fail closed), but not logged as a
// revoked token. Every failure was "unauthenticated", and a second check
// that timed out was logged as "token revoked while it authenticated".
func TestUserJoinTokenNotChecked(t *testing.T) {
	t.Parallel()
	storeDown := fmt.Errorf("auth: verify: %w", context.DeadlineExceeded)
	for _, tc := range []struct {
		name   string
		nth    int32
		err    error
		reason string // the refusal's ack reason (metric label)
		kicked bool
		logged bool // the check's error is logged: the token was not checked
	}{
		{"revoked at the second check", 2, auth.ErrUnauthenticated, "unauthenticated", true, false},
		{"store failure at the second check", 2, storeDown, "unavailable", true, true},
		{"refused at the first check", 1, auth.ErrUnauthenticated, "unauthenticated", false, false},
		{"store failure at the first check", 1, errors.New("database is down"), "unavailable", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := &failingCheck{nth: tc.nth, err: tc.err}
			b := setup(t, func(c *realtime.Config) { v.Verifier, c.Auth = c.Auth, v })
			v.token = b.tokens["owner"]
			s := dialRaw(t, b.url, "") // no handshake token: user-join makes the first check
			s.text(`421["user-join",{"auth":{"token":"` + v.token + `"}}]`)
			if tc.kicked {
				s.next("41")
				if err := s.closed(); err != nil {
					t.Fatal(err)
				}
				waitFor(t, "the refusal counted", 10*time.Second, func() bool {
					return b.metric(t, "quire_realtime_rejected_total", map[string]string{"reason": tc.reason}) == 1
				})
			} else if got, want := s.next("431"), `431[{"error":"`+tc.reason+`","ok":false}]`; got != want {
				t.Errorf("ack %s, want %s", got, want)
			}
			if n := b.metric(t, "quire_realtime_rejected_total", map[string]string{"reason": tc.reason}); n != 1 {
				t.Errorf("%v refusals counted as %q, want 1", n, tc.reason)
			}
			if logged := len(b.logs.containing(tc.err.Error())) > 0; logged != tc.logged {
				t.Errorf("the check's error logged (Warn or above): %v, want %v", logged, tc.logged)
			}
		})
	}
}
