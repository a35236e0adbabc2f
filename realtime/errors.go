package realtime

// Reasons sent as "error" in failed acks and used as the reason label of
// quire_realtime_rejected_total. Internal error text is never sent.
const (
	reasonUnauthenticated  = "unauthenticated"
	reasonInvalidPayload   = "invalid_payload"
	reasonUnknownEvent     = "unknown_event"
	reasonUnknownDocument  = "unknown_document"
	reasonUnknownChat      = "unknown_chat"
	reasonForbidden        = "forbidden"
	reasonNotJoined        = "not_joined"
	reasonInvalidUpdate    = "invalid_update"
	reasonInvalidAwareness = "invalid_awareness"
	reasonTooLarge         = "too_large"
	reasonBusy             = "busy"
	reasonUnavailable      = "unavailable"
	reasonInternal         = "internal"
	// reasonPending: the account waits for an admin's approval (role pending).
	reasonPending = "account_pending"
	// reasonRateLimited: over the socket's event or awareness rate.
	reasonRateLimited = "rate_limited"
	// reasonTooManyDocuments: the socket has joined Config.MaxDocuments.
	reasonTooManyDocuments = "too_many_documents"
	// reasonOverflow is never acked: the socket is disconnected.
	reasonOverflow = "queue_overflow"
)

// Reasons the server closes a socket (quire_realtime_closed_total).
const (
	closeRateLimited = "rate_limited"
	closeAuthTimeout = "auth_timeout"
	closeOverflow    = "queue_overflow"
)
