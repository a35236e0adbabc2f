package realtime

import (
	"errors"

	"github.com/quire/quire/ydoc"
)

// docReason turns a ydoc error into an ack reason.
func (c *conn) docReason(err error, docID string) string {
	switch {
	case errors.Is(err, ydoc.ErrInvalidUpdate):
		return reasonInvalidUpdate
	case errors.Is(err, ydoc.ErrTooLarge):
		return reasonTooLarge
	case errors.Is(err, ydoc.ErrBusy):
		return reasonBusy
	case errors.Is(err, ydoc.ErrUnknownDocument):
		return reasonUnknownDocument
	case errors.Is(err, ydoc.ErrClosed), errors.Is(err, ydoc.ErrUnavailable):
		return reasonUnavailable
	}
	c.logErr("document operation failed", err, "doc", docID)
	return reasonInternal
}
