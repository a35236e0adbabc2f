package realtime

import "context"

// Docs is the part of *ydoc.Manager the socket handlers use.
type Docs interface {
	// Join loads the document, registers sid and returns its full state.
	Join(ctx context.Context, docID, sid string) (DocState, error)
	Leave(ctx context.Context, docID, sid string)
	State(ctx context.Context, docID string) (DocState, error)
	// Apply validates, stores, applies and broadcasts update, then returns.
	Apply(ctx context.Context, docID, sid string, update []byte) error
}

// DocState is ydoc.State until the ydoc package lands.
// TODO(realtime): replace with ydoc.State.
type DocState struct {
	Update []byte
	JSON   []byte
}
