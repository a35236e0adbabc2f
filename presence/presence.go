package presence

import (
	"context"
	"time"
)

// TimeoutDefault is how long a socket stays live without a heartbeat:
// Open WebUI's SESSION_POOL_TIMEOUT, max(4 × the 30 s heartbeat, 120 s).
const TimeoutDefault = 120 * time.Second

// UsageTimeoutDefault is how long a `usage` event keeps its model in use
// (Open WebUI's usage pool TIMEOUT_DURATION).
const UsageTimeoutDefault = 3 * time.Second

// Manager records live sockets per account, and the models sockets are
// using. A socket is live from Connect (or its latest Touch) until
// Disconnect, or until it has been silent for longer than the
// implementation's timeout (TimeoutDefault), so that sockets orphaned by a
// crashed instance or a dead client expire. A model is in use while some
// socket's latest UseModel for it is younger than UsageTimeoutDefault and
// that socket has not disconnected. All methods are safe for concurrent
// use; errors come from the backing store (the memory one never fails).
type Manager interface {
	// Connect records that socket sid belongs to userID and is live now.
	Connect(ctx context.Context, userID, sid string) error
	// Disconnect forgets socket sid of userID (an unknown pair is ignored)
	// and the models it was using.
	Disconnect(ctx context.Context, userID, sid string) error
	// Touch records a heartbeat: socket sid of userID is live now (again,
	// if it had expired).
	Touch(ctx context.Context, userID, sid string) error
	// Online returns the ids of accounts with at least one live socket,
	// sorted.
	Online(ctx context.Context) ([]string, error)
	// Owns reports whether socket sid is live and userID's (Open WebUI's
	// SESSION_POOL check before a call to one socket).
	Owns(ctx context.Context, userID, sid string) (bool, error)
	// UseModel records that socket sid uses model now.
	UseModel(ctx context.Context, sid, model string) error
	// Models returns the models in use now, sorted.
	Models(ctx context.Context) ([]string, error)
	// Start begins background upkeep (expiry); Stop ends it. Both are
	// idempotent; Stop is safe without Start.
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
}
