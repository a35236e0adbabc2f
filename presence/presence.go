package presence

import "time"

// TimeoutDefault is how long a socket stays live without a heartbeat:
// Open WebUI's SESSION_POOL_TIMEOUT, max(4 × the 30 s heartbeat, 120 s).
const TimeoutDefault = 120 * time.Second

// Manager records live sockets per account. A socket is live from Connect
// (or its latest Touch) until Disconnect, or until it has been silent for
// longer than the implementation's timeout (TimeoutDefault), so that
// sockets orphaned by a crashed instance or a dead client expire. All
// methods are safe for concurrent use.
type Manager interface {
	// Connect records that socket sid belongs to userID and is live now.
	Connect(userID, sid string)
	// Disconnect forgets socket sid of userID; unknown pairs are ignored.
	Disconnect(userID, sid string)
	// Touch records a heartbeat: socket sid of userID is live now (again,
	// if it had expired).
	Touch(userID, sid string)
	// Online returns the ids of accounts with at least one live socket,
	// sorted.
	Online() []string
}
