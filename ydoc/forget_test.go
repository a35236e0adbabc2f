package ydoc

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/internal/syncbuf"
	"github.com/quire/quire/storage"
)

// Forget after the note was deleted: later commands get
// ErrUnknownDocument, the pending render never runs (no error logged),
// nothing of the document stays stored, and the document unloads.
func TestForgetDeletedNote(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, open func(testing.TB) storage.Store) {
		store := open(t)
		var errs syncbuf.Buffer
		log := slog.New(slog.NewTextHandler(&errs, &slog.HandlerOptions{Level: slog.LevelError}))
		b := startManager(t, store, Config{Logger: log, RenderDebounce: time.Hour, RenderMaxWait: time.Hour})
		ctx := context.Background()
		doc := newNote(t, store, `{}`)
		p := newPeer()
		_, err := b.m.Join(ctx, doc, "a")
		require.NoError(t, err)
		require.NoError(t, b.m.Apply(ctx, doc, "a", p.insert(0, "before")))
		require.Equal(t, 1, rowCount(t, store, doc))

		require.NoError(t, store.DeleteNote(ctx, doc[len("note:"):]))
		require.NoError(t, b.m.Forget(ctx, doc))
		require.ErrorIs(t, b.m.Apply(ctx, doc, "a", p.insert(0, "after")), ErrUnknownDocument)
		_, err = b.m.State(ctx, doc)
		require.ErrorIs(t, err, ErrUnknownDocument)
		require.Eventually(t, func() bool { return !b.m.live(doc) }, 10*time.Second, 5*time.Millisecond)
		require.Equal(t, 0, rowCount(t, store, doc))

		// Unloaded, the document stays refused: the note is gone.
		require.ErrorIs(t, b.m.Apply(ctx, doc, "a", p.insert(0, "later")), ErrUnknownDocument)
		require.Equal(t, 0, rowCount(t, store, doc))
		require.NoError(t, b.m.Stop(ctx))
		require.Empty(t, errs.String())
		require.NoError(t, b.m.Forget(ctx, doc), "not live: nothing to do")
	})
}
