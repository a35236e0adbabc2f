package realtime

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/quire/quire/auth"
	"github.com/quire/quire/awareness"
	"github.com/quire/quire/presence"
	"github.com/quire/quire/storage"
)

// Defaults for zero Config fields.
const (
	PathDefault            = "/ws/socket.io"
	MaxMessageBytesDefault = 16 << 20
	PingIntervalDefault    = 25 * time.Second
	PingTimeoutDefault     = 20 * time.Second
	QueueSizeDefault       = 256
	EventTimeoutDefault    = 30 * time.Second
	// PresenceIntervalDefault: presence changes reach watchers batched at
	// most this often (§9.6).
	PresenceIntervalDefault = time.Second
)

// Verifier checks a socket's token; *auth.Authenticator satisfies it.
// It returns auth.ErrUnauthenticated (or any error) for a bad token.
type Verifier interface {
	Verify(ctx context.Context, token string) (*storage.User, *auth.Claims, error)
}

var _ Verifier = (*auth.Authenticator)(nil)

// Config configures a Server. Auth, Store, Docs and Awareness are required.
type Config struct {
	Auth  Verifier
	Store storage.Store // note lookups for access checks, last_active_at
	Docs  Docs          // *ydoc.Manager
	// Awareness remembers awareness states per document and socket.
	Awareness *awareness.Registry
	// Presence records live sockets per account; nil: presence.NewMemory().
	Presence presence.Manager
	// Logger; nil: slog.Default().
	Logger *slog.Logger
	// Registry receives the metrics; nil: metrics are not registered.
	Registry prometheus.Registerer

	// Path is the Engine.IO path; zero: PathDefault.
	Path string
	// MaxMessageBytes bounds one incoming message (its packet text plus
	// binary attachments): a larger event is refused with "too_large"; a
	// frame over the Engine.IO limit, max(2×, +1 MiB) of it, closes that
	// connection. Zero: MaxMessageBytesDefault.
	MaxMessageBytes int64
	// EnablePolling switches to HTTP long-polling only, without upgrades
	// (Open WebUI's ENABLE_WEBSOCKET_SUPPORT=false). False: websocket only.
	EnablePolling bool
	// PingInterval and PingTimeout of Engine.IO; zero: 25 s and 20 s.
	PingInterval time.Duration
	PingTimeout  time.Duration
	// CORSOrigins allowed for the socket; nil: same origin only; "*": any.
	CORSOrigins []string
	// QueueSize bounds the events waiting per socket; a socket that
	// overflows it is disconnected. Zero: QueueSizeDefault.
	QueueSize int
	// EventTimeout bounds the handling of one event. Zero: EventTimeoutDefault.
	EventTimeout time.Duration
	// Broker carries every room message and command (broker.go). Nil: a
	// MemoryBroker of this instance alone. The Server starts and stops it.
	Broker Broker
	// Instance names this server among a deployment's. Zero: random.
	Instance string
	// PresenceInterval between presence diffs sent to watchers. Zero:
	// PresenceIntervalDefault.
	PresenceInterval time.Duration
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	c.Path = cmp.Or(c.Path, PathDefault)
	c.MaxMessageBytes = cmp.Or(c.MaxMessageBytes, MaxMessageBytesDefault)
	c.PingInterval = cmp.Or(c.PingInterval, PingIntervalDefault)
	c.PingTimeout = cmp.Or(c.PingTimeout, PingTimeoutDefault)
	c.QueueSize = cmp.Or(c.QueueSize, QueueSizeDefault)
	c.EventTimeout = cmp.Or(c.EventTimeout, EventTimeoutDefault)
	c.PresenceInterval = cmp.Or(c.PresenceInterval, PresenceIntervalDefault)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Presence == nil {
		c.Presence = presence.NewMemory()
	}
	if c.Instance == "" {
		c.Instance = randomInstance()
	}
	if c.Broker == nil {
		c.Broker = NewMemoryBroker(c.Instance)
	}
	return c
}

// Validate reports the first missing or invalid field.
func (c Config) Validate() error {
	switch {
	case c.Auth == nil:
		return errors.New("realtime: Config.Auth is required")
	case c.Store == nil:
		return errors.New("realtime: Config.Store is required")
	case c.Docs == nil:
		return errors.New("realtime: Config.Docs is required")
	case c.Awareness == nil:
		return errors.New("realtime: Config.Awareness is required")
	case c.MaxMessageBytes < 0:
		return errors.New("realtime: --max-message-bytes must be positive")
	case c.QueueSize < 0:
		return errors.New("realtime: Config.QueueSize must be positive")
	}
	return nil
}

// randomInstance is a process-unique instance id.
func randomInstance() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
