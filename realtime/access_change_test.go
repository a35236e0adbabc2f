package realtime_test

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/quire/quire/internal/nodetest"
	"github.com/quire/quire/realtime"
	"github.com/quire/quire/storage"
)

// accessRound is one line of testdata/accesschange.mjs after a swap.
type accessRound struct {
	Round                      int
	OldText, NewText           string
	OldWriterAck, NewWriterAck map[string]any
	OldWriterAwareness         map[string]any
	OldWriterGotNew            bool
	RelayedFromOld             int
	Text                       string
	Error                      string
}

// startAccessScript runs testdata/accesschange.mjs (script, from the test's
// package directory) with sockets A (a writer), B (a reader) and the
// observer joined, and checks its warm-up: A may write, B may not.
func startAccessScript(t *testing.T, script, url, noteID, tokA, tokB, tokObs string) *nodetest.Script {
	t.Helper()
	s := nodetest.Start(t, script, url, noteID, tokA, tokB, tokObs)
	var ready struct {
		Ready bool
		Warm  struct{ Writer, Reader map[string]any }
	}
	s.Next(&ready)
	if !ready.Ready {
		t.Fatal("script not ready")
	}
	if !equalJSON(ready.Warm.Writer, map[string]any{"ok": true}) ||
		!equalJSON(ready.Warm.Reader, map[string]any{"ok": false, "error": "forbidden"}) {
		t.Fatalf("before any change: writer %v, reader %v", ready.Warm.Writer, ready.Warm.Reader)
	}
	return s
}

// checkSwapped: after the writer became a reader and the reader a writer,
// with neither rejoining, the old writer's update is refused (not stored,
// not relayed) while it still reads, and the new writer's is accepted.
func checkSwapped(t *testing.T, r accessRound) {
	t.Helper()
	if r.Error != "" {
		t.Fatalf("script: %s", r.Error)
	}
	forbidden := map[string]any{"ok": false, "error": "forbidden"}
	okAck := map[string]any{"ok": true}
	if !equalJSON(r.OldWriterAck, forbidden) {
		t.Errorf("round %d: downgraded writer's update ack %v, want %v", r.Round, r.OldWriterAck, forbidden)
	}
	if !equalJSON(r.NewWriterAck, okAck) {
		t.Errorf("round %d: upgraded reader's update ack %v, want %v", r.Round, r.NewWriterAck, okAck)
	}
	if !equalJSON(r.OldWriterAwareness, okAck) || !r.OldWriterGotNew {
		t.Errorf("round %d: downgraded writer should still read: awareness ack %v, got the new update %v",
			r.Round, r.OldWriterAwareness, r.OldWriterGotNew)
	}
	if r.RelayedFromOld != 0 {
		t.Errorf("round %d: %d refused updates relayed", r.Round, r.RelayedFromOld)
	}
	if strings.Contains(r.Text, r.OldText) || !strings.Contains(r.Text, r.NewText) {
		t.Errorf("round %d: stored text %q: want %s and not %s", r.Round, r.Text, r.NewText, r.OldText)
	}
}

// A socket's permission is cached at join; EmitNote (every access change)
// invalidates it, so a writer downgraded to read is refused from the next
// update on and a reader upgraded to write may write, neither rejoining.
// Twice, so the second change hits permissions recomputed after the first.
func TestAccessChangeReachesJoinedSockets(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	s := startAccessScript(t, filepath.Join("testdata", "accesschange.mjs"), b.url, b.note.ID,
		b.tokens["writer"], b.tokens["reader"], b.tokens["owner"])
	grants := func(write, read string) []storage.AccessGrant {
		return []storage.AccessGrant{
			{PrincipalType: "user", PrincipalID: b.users[read].ID, Permission: storage.PermRead},
			{PrincipalType: "user", PrincipalID: b.users[write].ID, Permission: storage.PermWrite},
		}
	}
	for i, g := range [][]storage.AccessGrant{grants("reader", "writer"), grants("writer", "reader")} {
		if err := b.store.SetNoteAccess(ctx, b.note.ID, g); err != nil {
			t.Fatal(err)
		}
		n, err := b.store.GetNote(ctx, b.note.ID)
		if err != nil {
			t.Fatal(err)
		}
		b.srv.EmitNote(n)
		var r accessRound
		s.Send("swap")
		s.Next(&r)
		if r.Round != i+1 {
			t.Fatalf("round %d reported as %d", i+1, r.Round)
		}
		checkSwapped(t, r)
	}
	s.Send("done")
}

// accessCountingStore counts permission reads.
type accessCountingStore struct {
	storage.Store
	reads atomic.Int64
}

func (s *accessCountingStore) GetNoteAccess(ctx context.Context, id string) (*storage.Note, error) {
	s.reads.Add(1)
	return s.Store.(storage.NoteAccessReader).GetNoteAccess(ctx, id)
}

// Updates use the permission cached at join: a burst of 200 reads the
// note's access only for the joins.
func TestUpdatesReadNoAccess(t *testing.T) {
	t.Parallel()
	var counting *accessCountingStore
	b := setup(t, func(c *realtime.Config) {
		counting = &accessCountingStore{Store: c.Store}
		c.Store = counting
	})
	const n = 200
	var r struct{ AcksOk int }
	node(t, &r, "burst.mjs", b.url, b.note.ID, b.tokens["writer"], b.tokens["reader"], strconv.Itoa(n))
	if r.AcksOk != n {
		t.Fatalf("%d of %d updates acknowledged", r.AcksOk, n)
	}
	// 3 joins (writer, reader, late joiner); slack for another test's
	// EmitNote bumping this note's epoch shard (access.go).
	if reads := counting.reads.Load(); reads > 10 {
		t.Errorf("%d access reads for 3 joins and %d updates", reads, n)
	}
}
