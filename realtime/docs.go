package realtime

import (
	"context"

	"github.com/quire/quire/ydoc"
)

// Docs is the part of *ydoc.Manager the socket handlers use.
type Docs interface {
	// Join loads the document, registers sid and returns its full state.
	Join(ctx context.Context, docID, sid string) (ydoc.State, error)
	Leave(ctx context.Context, docID, sid string)
	State(ctx context.Context, docID string) (ydoc.State, error)
	// Apply validates, stores, applies and broadcasts update, then returns.
	Apply(ctx context.Context, docID, sid string, update []byte) error
}

var _ Docs = (*ydoc.Manager)(nil)
