package realtime_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/quire/quire/internal/nodetest"
	"github.com/quire/quire/realtime"
	"github.com/quire/quire/realtime/brokertest"
)

// Everything the Server sends to a room and every command goes through its
// Broker: with a second instance on the same bus, that instance sees the
// Server's room messages and commands with their origin, and what it
// publishes or commands reaches the Server's sockets.
func TestServerGoesThroughTheBroker(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, peer, rec := setupWithPeer(t)
	if err := peer.Subscribe(ctx, "note:"+b.note.ID); err != nil {
		t.Fatal(err)
	}

	s := nodetest.Start(t, filepath.Join("testdata", "peer.mjs"), b.url, b.tokens["writer"])
	s.Ready()

	// Another instance's message to the account's room reaches its socket here.
	writer := b.users["writer"].ID
	if err := peer.Publish(ctx, realtime.Message{Room: "user:" + writer, Event: "events",
		Payload: []byte(`{"from":"b"}`), Origin: realtime.Origin{Instance: "b"}}); err != nil {
		t.Fatal(err)
	}
	if r := s.Step(""); r["events"].(map[string]any)["from"] != "b" {
		t.Fatalf("socket got %v, want the peer's message", r)
	}

	// This server's note event and access change reach the other instance.
	b.srv.EmitNote(b.note)
	if got := rec.WaitCommands(t, 1)[0]; got.Kind != realtime.CommandAccessChanged || got.NoteID != b.note.ID || got.Origin.Instance != "a" {
		t.Fatalf("peer got command %+v, want access changed on %s from a", got, b.note.ID)
	}
	if got := rec.WaitMessages(t, 1)[0]; got.Event != "events:note" || got.Room != "note:"+b.note.ID || got.Origin.Instance != "a" {
		t.Fatalf("peer got message %+v, want events:note from a", got)
	}

	// Another instance's disconnect command closes the account's socket here.
	if err := peer.Command(ctx, realtime.Command{Kind: realtime.CommandDisconnectUser, UserID: writer}); err != nil {
		t.Fatal(err)
	}
	// (The library closes the transport too, so the client may say either.)
	if r := s.Step(""); r["disconnected"] != "io server disconnect" && r["disconnected"] != "transport close" {
		t.Fatalf("after the peer's disconnect command: %v", r)
	}
}

// setupWithPeer is setup as instance "a" on a memory bus, with the Broker
// of a second instance, "b", on the same bus, started with a recorder of
// what b receives.
func setupWithPeer(t *testing.T) (*testBundle, realtime.Broker, *brokertest.Recorder) {
	t.Helper()
	bus := realtime.NewMemoryBus()
	b := setup(t, func(c *realtime.Config) { c.Broker, c.Instance = bus.Broker("a"), "a" })
	peer, rec := bus.Broker("b"), brokertest.NewRecorder()
	if err := peer.Start(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = peer.Stop(context.Background()) })
	return b, peer, rec
}
