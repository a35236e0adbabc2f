package ydoc

import "errors"

// Sentinel errors: the only errors Manager methods return (test with
// errors.Is). Callers turn them into ack reasons; internal causes are logged
// here, never handed out.
var (
	// ErrInvalidUpdate: the bytes are not a valid Yjs v1 update, or the
	// document could not apply them.
	ErrInvalidUpdate = errors.New("ydoc: invalid update")
	// ErrTooLarge: the update would grow the document past MaxDocumentBytes.
	ErrTooLarge = errors.New("ydoc: document too large")
	// ErrTooCostly: a content edit would write too many pieces into a
	// live paragraph of too many (Config.MaxTextEditCost).
	ErrTooCostly = errors.New("ydoc: content edit too costly for the live document")
	// ErrBusy: the document's inbox or its list of held updates is full; retry later.
	ErrBusy = errors.New("ydoc: document busy")
	// ErrUnknownDocument: the id is not "note:<id>" (or "note_<id>"), or the note is gone.
	ErrUnknownDocument = errors.New("ydoc: unknown document")
	// ErrClosed: the manager is not running (before Start, after Stop).
	ErrClosed = errors.New("ydoc: manager closed")
	// ErrUnavailable: storage failed; nothing was acknowledged. Retry later.
	ErrUnavailable = errors.New("ydoc: storage unavailable")
)
