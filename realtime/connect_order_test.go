package realtime_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/quire/quire/auth"
	"github.com/quire/quire/realtime"
	"github.com/quire/quire/storage"
)

// holdAt is what the held Verifiers share: the owner's token, whose check
// they hold until release is closed, saying on entered when it started
// (a test's window in which the socket is authenticating).
type holdAt struct {
	realtime.Verifier
	token   string
	entered chan struct{}
	release chan struct{}
}

func (h *holdAt) base() *holdAt { return h }

// heldVerifier holds the first check of token.
type heldVerifier struct {
	holdAt
	once sync.Once
}

func (v *heldVerifier) Verify(ctx context.Context, token string) (*storage.User, *auth.Claims, error) {
	if token == v.token {
		first := false
		v.once.Do(func() { first = true })
		if first {
			close(v.entered)
			<-v.release
		}
	}
	return v.Verifier.Verify(ctx, token)
}

// dialHeld starts a server on transport whose Verifier is v
// around the real one, holding the owner's token, and a client that has
// read the OPEN and asked to CONNECT with that token.
func dialHeld(t *testing.T, transport string, v interface {
	realtime.Verifier
	base() *holdAt
}) (*testBundle, rawClient) {
	t.Helper()
	h := v.base()
	h.entered, h.release = make(chan struct{}), make(chan struct{})
	b := setup(t, func(c *realtime.Config) {
		c.EnablePolling = transport == "polling"
		h.Verifier, c.Auth = c.Auth, v
	})
	h.token = b.tokens["owner"]
	var cl rawClient
	if transport == "polling" {
		cl = dialPolling(t, b.url)
	} else {
		cl = dialWebSocket(t, b.url)
	}
	if f := <-cl.frames; !strings.HasPrefix(f, "0{") {
		t.Fatalf("want the Engine.IO OPEN, got %q", f)
	}
	if err := cl.send(`40{"token":"` + h.token + `"}`); err != nil {
		t.Fatal(err)
	}
	return b, cl
}

// rawClient is a Socket.IO client at the packet level: send writes one
// packet, frames delivers every packet received, in order.
type rawClient struct {
	send   func(pkt string) error
	frames chan string
}

// readThrough returns the frames the client receives up to and including
// the first that last accepts, or all of them until the connection ends.
func (c *rawClient) readThrough(last func(string) bool) []string {
	var got []string
	for f := range c.frames {
		got = append(got, f)
		if last(f) {
			break
		}
	}
	return got
}

func dialWebSocket(t *testing.T, base string) rawClient {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial(socketURL(base), nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { close(done); conn.Close() })
	frames := make(chan string, 64)
	go func() {
		defer close(frames)
		for {
			_, msg, err := conn.ReadMessage()
			if err != nil {
				return
			}
			select {
			case frames <- string(msg):
			case <-done: // the test stopped reading
				return
			}
		}
	}()
	var mu sync.Mutex
	return rawClient{frames: frames, send: func(pkt string) error {
		mu.Lock()
		defer mu.Unlock()
		return conn.WriteMessage(websocket.TextMessage, []byte(pkt))
	}}
}

// dialPolling opens an Engine.IO long-polling session: its OPEN packet
// is the first frame, as on a websocket.
func dialPolling(t *testing.T, base string) rawClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	endpoint := base + "/ws/socket.io/?EIO=4&transport=polling"
	get := func(u string) ([]string, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			return nil, err
		}
		return strings.Split(string(body), "\x1e"), nil
	}
	open, err := get(endpoint)
	var hs struct{ Sid string }
	if err != nil || len(open) != 1 || !strings.HasPrefix(open[0], "0") || json.Unmarshal([]byte(open[0][1:]), &hs) != nil || hs.Sid == "" {
		t.Fatalf("polling handshake: %q %v", open, err)
	}
	session := endpoint + "&sid=" + url.QueryEscape(hs.Sid)
	frames := make(chan string, 64)
	frames <- open[0]
	go func() {
		defer close(frames)
		for {
			pkts, err := get(session)
			if err != nil || pkts == nil {
				return
			}
			for _, p := range pkts {
				select {
				case frames <- p:
				case <-ctx.Done(): // the test stopped reading
					return
				}
			}
		}
	}()
	return rawClient{frames: frames, send: func(pkt string) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, session, strings.NewReader(pkt))
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("polling POST: %s", resp.Status)
		}
		return nil
	}}
}

// A client that sees its CONNECT answered is already in its account's
// room: what is sent there from then on reaches it. The page of a chat
// reloads it on "connect" and then relies on the room for what follows;
// a reply sent before the socket authenticated let a chat's last events
// fall in between (the flaky e2e "a chat reopened mid-answer").
func TestConnectAnsweredOnceInRooms(t *testing.T) {
	t.Parallel()
	eachTransport(t, func(t *testing.T, transport string) {
		held := &heldVerifier{}
		b, cl := dialHeld(t, transport, held)
		owner := b.users["owner"].ID
		next := func(prefix string) []string {
			t.Helper()
			var seen []string
			for f := range cl.frames {
				if strings.HasPrefix(f, prefix) {
					return seen
				}
				seen = append(seen, f)
			}
			t.Fatalf("connection ended waiting for %q; it received %q", prefix, seen)
			return nil
		}
		<-held.entered
		// The reply must not come while authentication is held; the
		// wait only bounds how long a wrong early reply is looked for.
		connected := make(chan []string, 1)
		go func() { connected <- next("40{") }()
		var before []string
		select {
		case before = <-connected:
			close(held.release)
		case <-time.After(300 * time.Millisecond):
			close(held.release)
			before = <-connected
		}
		// The client saw "connect": the account's room reaches it now.
		if err := b.srv.EmitToUser(owner, "probe", []byte(`{"n":1}`)); err != nil {
			t.Fatal(err)
		}
		// A round trip through the socket's queue (behind its
		// authentication), then a second probe: the first must be
		// before it.
		if err := cl.send(`427["heartbeat",{}]`); err != nil {
			t.Fatal(err)
		}
		got := append(before, next(`437[`)...)
		if err := b.srv.EmitToUser(owner, "probe", []byte(`{"n":2}`)); err != nil {
			t.Fatal(err)
		}
		got = append(got, next(`42["probe",{"n":2}]`)...)
		found := false
		for _, f := range got {
			found = found || f == `42["probe",{"n":1}]`
		}
		if !found {
			t.Errorf("the event sent to user:<id> right after the client saw connect was lost; the client got %q", got)
		}
	})
}
