package presence

import "time"

// Manager records live sockets per account. All methods are safe for
// concurrent use.
type Manager interface {
	// Connect records that socket sid belongs to userID and is live now.
	Connect(userID, sid string)
	// Disconnect forgets socket sid of userID; unknown pairs are ignored.
	Disconnect(userID, sid string)
	// Touch records a heartbeat of socket sid (unknown sockets are ignored).
	Touch(sid string, at time.Time)
	// Online returns the ids of accounts with at least one live socket,
	// sorted.
	Online() []string
}
