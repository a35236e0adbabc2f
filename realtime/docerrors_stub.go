//go:build noydoc

package realtime

// TODO(realtime): remove once ydoc compiles.
func (c *conn) docReason(err error, docID string) string {
	c.logErr("document operation failed", err, "doc", docID)
	return reasonInternal
}
