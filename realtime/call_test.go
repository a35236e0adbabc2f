package realtime_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/quire/quire/awareness"
	"github.com/quire/quire/realtime"
	"github.com/quire/quire/wire"
	"github.com/quire/quire/ydoc"
)

// twoInstances is a bundle whose server is instance "a" of a memory bus,
// plus instance "b": a second realtime server on the same bus, store,
// accounts and presence (shared, as a Redis presence would be).
func twoInstances(t *testing.T) (*testBundle, *realtime.Server, string) {
	t.Helper()
	bus := realtime.NewMemoryBus()
	b := setup(t, func(c *realtime.Config) { c.Broker, c.Instance = bus.Broker("a"), "a" })
	peer, url := addInstance(t, b, bus.Broker("b"), "b")
	return b, peer, url
}

// addInstance starts another realtime server on b's store, accounts and
// presence, with broker; it returns the server and its URL.
func addInstance(t *testing.T, b *testBundle, broker realtime.Broker, instance string) (*realtime.Server, string) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(testWriter{t, nil}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var peer *realtime.Server
	docs, err := ydoc.NewManager(ydoc.Config{Store: b.store, Logger: log, Registry: prometheus.NewRegistry(),
		Broadcast: func(docID string, update []byte, exceptSID string) { peer.Broadcast(docID, update, exceptSID) }})
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, docs.Start(ctx))
	peer, err = realtime.New(realtime.Config{Auth: b.auth, Store: b.store, Docs: docs, Awareness: awareness.NewRegistry(),
		Presence: b.presence, Logger: log, Broker: broker, Instance: instance})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("/ws/socket.io/", peer.Handler())
	hs := httptest.NewServer(mux)
	require.NoError(t, peer.Start(ctx))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, peer.Stop(ctx))
		require.NoError(t, docs.Stop(ctx))
		hs.Close()
	})
	return peer, hs.URL
}

// sockEvents is what caller.mjs printed for "events": per socket, the
// "events" payloads it got.
func sockEvents(t *testing.T, got map[string]any) [][]map[string]any {
	t.Helper()
	var out [][]map[string]any
	for _, list := range got["events"].([]any) {
		var s []map[string]any
		for _, e := range list.([]any) {
			s = append(s, e.(map[string]any)["data"].(map[string]any))
		}
		out = append(out, s)
	}
	return out
}

// The emitter reaches every socket of an account on every instance: the
// owner has one socket on each; the reader's socket hears nothing meant
// for the owner. Malformed emits are refused and send nothing.
func TestEmitToUserAndChat(t *testing.T) {
	t.Parallel()
	b, peer, peerURL := twoInstances(t)
	owner := b.users["owner"].ID
	step := script(t, "caller.mjs", b.url, b.tokens["owner"], peerURL, b.tokens["owner"], b.url, b.tokens["reader"])

	doc := "note:" + b.note.ID
	require.Equal(t, true, step("join-doc 0 " + doc)["ack"].(map[string]any)["ok"])
	require.NoError(t, peer.EmitToDocument("note_"+b.note.ID, "events", []byte(`{"data":{"type":"doc"}}`)))
	require.NoError(t, b.srv.EmitToUser(owner, "events", []byte(`{"data":{"type":"notification","data":{"content":"hi"}}}`)))
	require.NoError(t, peer.EmitChat(owner, "c1", "m1", wire.EventData{Type: "chat:message:delta", Data: map[string]string{"content": "x"}}))
	for _, bad := range []func() error{
		func() error { return b.srv.EmitToUser(owner, "events", []byte(`{"data":`)) },
		func() error { return b.srv.EmitToUser(owner, "disconnect", []byte(`{}`)) },
		func() error { return b.srv.EmitToUser(owner, "", []byte(`{}`)) },
		func() error { return b.srv.EmitToDocument("nope", "events", []byte(`{}`)) },
	} {
		require.ErrorIs(t, bad(), realtime.ErrBadEmit)
	}

	ev := sockEvents(t, step("events"))
	want := []map[string]any{
		{"data": map[string]any{"type": "notification", "data": map[string]any{"content": "hi"}}},
		{"chat_id": "c1", "message_id": "m1", "data": map[string]any{"type": "chat:message:delta", "data": map[string]any{"content": "x"}}},
	}
	require.Equal(t, append([]map[string]any{{"data": map[string]any{"type": "doc"}}}, want...), ev[0],
		"the owner's socket on this instance, in the document's room")
	require.Equal(t, want, ev[1], "the owner's socket on the other instance")
	require.Empty(t, ev[2], "the reader's socket")
}

// Call sends one socket `events` with an ack and returns its answer, here
// or on another instance; a socket that is not the account's, unknown or
// gone is ErrSessionGone; one that does not answer times out.
func TestCall(t *testing.T) {
	t.Parallel()
	b, _, peerURL := twoInstances(t)
	owner, reader := b.users["owner"].ID, b.users["reader"].ID
	step := script(t, "caller.mjs", b.url, b.tokens["owner"], peerURL, b.tokens["owner"])
	var sids []string
	for _, s := range step("sids")["sids"].([]any) {
		sids = append(sids, s.(string))
	}
	ctx := context.Background()
	input := func(n int) []byte {
		p, _ := json.Marshal(wire.ChatEvent{ChatID: "c1", MessageID: "m1", Data: wire.EventData{Type: "input", Data: map[string]int{"n": n}}})
		return p
	}
	ignore := []byte(`{"chat_id":"c1","message_id":"m1","data":{"type":"ignore"}}`)

	got, err := b.srv.Call(ctx, sids[0], owner, input(21), 10*time.Second)
	require.NoError(t, err)
	require.JSONEq(t, `{"value":42,"socket":0}`, string(got), "a socket of this instance")
	got, err = b.srv.Call(ctx, sids[1], owner, input(4), 10*time.Second)
	require.NoError(t, err)
	require.JSONEq(t, `{"value":8,"socket":1}`, string(got), "a socket of the other instance")

	for name, sid := range map[string]string{"here": sids[0], "there": sids[1], "unknown": "no-such-socket"} {
		_, err = b.srv.Call(ctx, sid, reader, input(1), 10*time.Second)
		require.ErrorIs(t, err, realtime.ErrSessionGone, name)
	}
	require.JSONEq(t, `{"error":"Client session disconnected."}`, string(realtime.CallError(err)))
	_, err = b.srv.Call(ctx, sids[0], owner, []byte(`{"data":`), time.Second)
	require.ErrorIs(t, err, realtime.ErrBadEmit)

	// No answer: the timeout (the socket never answers these).
	_, err = b.srv.Call(ctx, sids[1], owner, ignore, 200*time.Millisecond)
	require.ErrorIs(t, err, realtime.ErrCallTimeout)
	require.JSONEq(t, `{"error":"Event call timed out. The browser tab may be inactive or closed."}`, string(realtime.CallError(err)))
	cctx, cancel := context.WithCancelCause(ctx)
	mine := errors.New("the task was stopped")
	errs := make(chan error, 1)
	go func() {
		_, err := b.srv.Call(cctx, sids[0], owner, ignore, 0)
		errs <- err
	}()
	require.Equal(t, true, step("wait-ignored 2")["ok"])
	cancel(mine)
	require.ErrorIs(t, <-errs, mine, "ctx's end ends the call")

	// A socket that leaves while a call waits ends it at once, here and
	// on the other instance.
	for i, sid := range sids {
		errs := make(chan error, 1)
		go func() {
			_, err := b.srv.Call(ctx, sid, owner, ignore, time.Hour)
			errs <- err
		}()
		require.Equal(t, true, step("wait-ignored " + itoa(3+i))["ok"])
		require.Equal(t, float64(i), step("close " + itoa(i))["closed"])
		select {
		case err := <-errs:
			require.ErrorIs(t, err, realtime.ErrSessionGone, "socket %d", i)
		case <-time.After(20 * time.Second):
			t.Fatalf("a call to socket %d outlived its socket", i)
		}
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

// A call waiting for a socket's answer ends ErrSessionGone when the
// socket user-joins another account, on this instance and through
// another: the answer would come from the other account's page.
func TestCallEndsWhenTheSocketChangesAccount(t *testing.T) {
	t.Parallel()
	b, _, peerURL := twoInstances(t)
	owner := b.users["owner"].ID
	step := script(t, "caller.mjs", b.url, b.tokens["owner"], peerURL, b.tokens["owner"])
	sids := step("sids")["sids"].([]any)
	ignore := []byte(`{"chat_id":"c1","message_id":"m1","data":{"type":"ignore"}}`)
	errs := make(chan error, len(sids))
	for _, sid := range sids {
		go func() {
			_, err := b.srv.Call(context.Background(), sid.(string), owner, ignore, 30*time.Second)
			errs <- err
		}()
	}
	step("wait-ignored 2")
	for i := range sids {
		ack := step(fmt.Sprintf("user-join %d %s", i, b.tokens["reader"]))["ack"].(map[string]any)
		require.Equal(t, true, ack["ok"], "%v", ack)
	}
	for range sids {
		require.ErrorIs(t, <-errs, realtime.ErrSessionGone)
	}
}

// A call checked as the old account's and emitted once the socket has
// user-joined another account would show the old account's call (its
// chat, its code to run, its question) to the new account's page: the
// check and the emit are one step against the change. The call goes out
// before the change (the socket is still the old account's: it hears it
// before its user-join's ack), then ends ErrSessionGone. It was emitted
// after the ack, to the new account's page.
func TestCallCheckedBeforeAUserJoinIsNotShownToTheNewAccount(t *testing.T) {
	t.Parallel()
	b := setup(t)
	step := script(t, "caller.mjs", b.url, b.tokens["owner"])
	sid := step("sids")["sids"].([]any)[0].(string)
	blocked := make(chan struct{})
	realtime.OnSwitchWaitsForCall(b.srv, func() { close(blocked) })
	joined := make(chan map[string]any, 1)
	var once sync.Once
	realtime.OnCallChecked(b.srv, func() {
		once.Do(func() {
			go func() { joined <- step("user-join 0 " + b.tokens["reader"]) }()
			select {
			case <-blocked: // the change waits for this call
			case j := <-joined: // the change did not wait
				joined <- j
			}
		})
	})
	secret := []byte(`{"chat_id":"c1","message_id":"m1","data":{"type":"ignore","data":{"code":"the owner's"}}}`)
	_, err := b.srv.Call(context.Background(), sid, b.users["owner"].ID, secret, 30*time.Second)
	require.ErrorIs(t, err, realtime.ErrSessionGone)
	j := <-joined
	require.Equal(t, true, j["ack"].(map[string]any)["ok"], "%v", j)
	events := step("events")["events"].([]any)[0].([]any)
	before := int(j["before"].(float64))
	for i, e := range events {
		if i >= before {
			t.Errorf("the reader's page got the owner's call: %v", e)
		}
	}
}
