package realtime

// Reasons sent as "error" in failed acks and used as the reason label of
// quire_realtime_rejected_total. Internal error text is never sent.
const (
	reasonUnauthenticated  = "unauthenticated"
	reasonInvalidPayload   = "invalid_payload"
	reasonUnknownEvent     = "unknown_event"
	reasonUnknownDocument  = "unknown_document"
	reasonForbidden        = "forbidden"
	reasonNotJoined        = "not_joined"
	reasonInvalidUpdate    = "invalid_update"
	reasonInvalidAwareness = "invalid_awareness"
	reasonTooLarge         = "too_large"
	reasonBusy             = "busy"
	reasonUnavailable      = "unavailable"
	reasonInternal         = "internal"
	// reasonOverflow is never acked: the socket is disconnected.
	reasonOverflow = "queue_overflow"
)
