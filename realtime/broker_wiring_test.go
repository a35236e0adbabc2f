package realtime_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"

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
	bus := realtime.NewMemoryBus()
	b := setup(t, func(c *realtime.Config) { c.Broker, c.Instance = bus.Broker("a"), "a" })
	peer, rec := bus.Broker("b"), brokertest.NewRecorder()
	if err := peer.Start(ctx, rec); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = peer.Stop(ctx) })
	if err := peer.Subscribe(ctx, "note:"+b.note.ID); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command("node", filepath.Join("testdata", "peer.mjs"), b.url, b.tokens["writer"])
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := bufio.NewScanner(stdout)
	next := func() map[string]any {
		t.Helper()
		var v map[string]any
		if !lines.Scan() || json.Unmarshal(lines.Bytes(), &v) != nil {
			t.Fatalf("peer.mjs said %q; stderr: %s", lines.Text(), stderr.String())
		}
		return v
	}
	if r := next(); r["ready"] != true {
		t.Fatalf("not ready: %v", r)
	}

	// Another instance's message to the account's room reaches its socket here.
	writer := b.users["writer"].ID
	if err := peer.Publish(ctx, realtime.Message{Room: "user:" + writer, Event: "events",
		Payload: []byte(`{"from":"b"}`), Origin: realtime.Origin{Instance: "b"}}); err != nil {
		t.Fatal(err)
	}
	if r := next(); r["events"].(map[string]any)["from"] != "b" {
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
	if r := next(); r["disconnected"] != "io server disconnect" && r["disconnected"] != "transport close" {
		t.Fatalf("after the peer's disconnect command: %v", r)
	}
}
