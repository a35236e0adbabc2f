package realtime_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quire/quire/auth"
	"github.com/quire/quire/realtime"
	"github.com/quire/quire/storage"
)

// recheckHeldVerifier holds the second check of token (adopt's, after the
// socket joined user:<id>, before its CONNECT is answered) until release
// is closed, saying on entered when it started.
type recheckHeldVerifier struct {
	holdAt
	calls atomic.Int32
}

func (v *recheckHeldVerifier) Verify(ctx context.Context, token string) (*storage.User, *auth.Claims, error) {
	if token == v.token && v.calls.Add(1) == 2 {
		close(v.entered)
		<-v.release
	}
	return v.Verifier.Verify(ctx, token)
}

// A socket the server ends while it authenticates (DisconnectUser, or its
// token revoked between the two checks) is gone from its rooms and from
// the server, whatever the client does next. With --polling the refusal is
// a CONNECT_ERROR, which leaves the engine connection open: the conn stayed
// in user:<id> and kept receiving the account's events until the client
// closed or the engine's 45 s connect timeout did.
func TestKickedWhileAuthenticatingLeavesItsRooms(t *testing.T) {
	t.Parallel()
	eachTransport(t, func(t *testing.T, transport string) {
		held := &recheckHeldVerifier{}
		b, cl := dialHeld(t, transport, held)
		owner := b.users["owner"].ID
		<-held.entered // in user:<id>, CONNECT not answered
		b.srv.DisconnectUser(owner)
		close(held.release)
		// The client hears it was refused (polling: CONNECT_ERROR) or
		// connected then disconnected (websocket: 40, then 41).
		got := cl.readThrough(func(f string) bool { return strings.HasPrefix(f, "44") || f == "41" })
		// The client keeps its connection open: nothing of the
		// account reaches it any more, and the server forgets it.
		if err := b.srv.EmitToUser(owner, "probe", []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
		deadline := time.After(10 * time.Second)
		for realtime.ConnCount(b.srv) > 0 {
			select {
			case f, ok := <-cl.frames:
				if ok {
					got = append(got, f)
				}
			case <-deadline:
				t.Fatalf("the socket ended while it authenticated is still registered; the client got %q", got)
			case <-time.After(10 * time.Millisecond):
			}
		}
		noProbe(t, got, "a socket the server ended")
	})
}

// A client that goes away while its socket authenticates leaves nothing
// behind once the authentication ends: no conn, no room membership, no
// connection (the held reply and what was held behind it are dropped),
// and no request. With --polling the server answers the client's last
// long-poll: one it took while the session closed waited for good.
func TestClosedWhileAuthenticatingLeavesNothing(t *testing.T) {
	t.Parallel()
	eachTransport(t, func(t *testing.T, transport string) {
		held := &heldVerifier{}
		b, cl := dialHeld(t, transport, held)
		<-held.entered
		if err := cl.send("1"); err != nil { // Engine.IO close
			t.Fatal(err)
		}
		for range cl.frames { // until the server closed it
		}
		// Authentication goes on meanwhile: the account's events are
		// sent to user:<id> while it ends.
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := 0; i < 50; i++ {
				_ = b.srv.EmitToUser(b.users["owner"].ID, "probe", []byte(`{}`))
			}
		}()
		close(held.release)
		<-done
		waitFor(t, "nothing left of the socket", 10*time.Second, func() bool {
			return realtime.ConnCount(b.srv) == 0 && realtime.WSCount(b.srv) == 0 &&
				len(realtime.UserRoomMembers(b.srv, b.users["owner"].ID)) == 0 && realtime.PollsInFlight(b.srv) == 0
		})
	})
}

// revokedOnRecheck fails the second check of token (adopt's, after the
// socket joined user:<id>), held until release is closed: the token was
// revoked while the socket authenticated.
type revokedOnRecheck struct {
	recheckHeldVerifier
}

func (v *revokedOnRecheck) Verify(ctx context.Context, token string) (*storage.User, *auth.Claims, error) {
	u, cl, err := v.recheckHeldVerifier.Verify(ctx, token)
	if token == v.token && v.calls.Load() == 2 {
		return nil, nil, auth.ErrUnauthenticated
	}
	return u, cl, err
}

// A socket whose token is revoked while it authenticates is refused, and
// nothing its account's room sent while it was in it, before the second
// check, reaches it: the client would take those events as its own. A
// websocket is answered and ended ("40", then "41"); polling gets a
// CONNECT_ERROR, and the engine connection stays open.
func TestRevokedWhileAuthenticatingGetsNoEvents(t *testing.T) {
	t.Parallel()
	eachTransport(t, func(t *testing.T, transport string) {
		held := &revokedOnRecheck{}
		b, cl := dialHeld(t, transport, held)
		<-held.entered // in user:<id>, the second check on its way
		if err := b.srv.EmitToUser(b.users["owner"].ID, "probe", []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
		close(held.release)
		got := cl.readThrough(func(f string) bool { return transport == "polling" && strings.HasPrefix(f, "44") })
		switch {
		case transport == "polling" && (len(got) == 0 || !strings.HasPrefix(got[len(got)-1], "44")):
			t.Fatalf("want a CONNECT_ERROR; got %q", got)
		case transport == "websocket" && (len(got) < 2 || !strings.HasPrefix(got[0], "40{") || got[len(got)-1] != "41"):
			t.Fatalf("want the CONNECT reply, then DISCONNECT; got %q", got)
		}
		noProbe(t, got, "a socket whose token was revoked")
	})
}

// What a socket's account room sent while the socket authenticated
// reaches it after its CONNECT reply, never before: a client that is not
// connected yet has no handler for it (and a hand-written one would take
// it for an event of a socket it has not got).
func TestEventsWhileAuthenticatingFollowTheConnectReply(t *testing.T) {
	t.Parallel()
	eachTransport(t, func(t *testing.T, transport string) {
		held := &recheckHeldVerifier{}
		b, cl := dialHeld(t, transport, held)
		<-held.entered // in user:<id>, CONNECT not answered
		if err := b.srv.EmitToUser(b.users["owner"].ID, "probe", []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
		close(held.release)
		got := cl.readThrough(func(f string) bool { return strings.Contains(f, "probe") })
		if len(got) != 2 || !strings.HasPrefix(got[0], "40{") || got[1] != `42["probe",{}]` {
			t.Fatalf("want the CONNECT reply, then the event; got %q", got)
		}
	})
}

// noProbe fails t if the account's probe event is among the frames got by
// a socket it must not reach (who).
func noProbe(t *testing.T, got []string, who string) {
	t.Helper()
	for _, f := range got {
		if strings.Contains(f, "probe") {
			t.Errorf("the account's event reached %s: %q", who, got)
			return
		}
	}
}
