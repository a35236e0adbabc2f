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
	AuthTimeoutDefault      = 10 * time.Second
	MaxDocumentsDefault     = 64
	EventRateDefault        = 500
	EventBurstDefault       = 1000
	AwarenessRateDefault    = 30
	AwarenessBurstDefault   = 30
	MaxRateStrikesDefault   = 100
)

// Verifier checks a socket's token; *auth.Authenticator satisfies it.
// It returns auth.ErrUnauthenticated for a bad token; any other error is
// a check that could not be made (storage away), never a refusal.
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
	// AuthTimeout closes a socket that has not authenticated (handshake
	// auth.token or user-join) this long after connecting. Zero:
	// AuthTimeoutDefault; negative: never.
	AuthTimeout time.Duration
	// MaxDocuments bounds the documents one socket may have joined at once;
	// one more join is refused with "too_many_documents". Zero:
	// MaxDocumentsDefault.
	MaxDocuments int
	// EventRate and EventBurst bound every event of one socket (a token
	// bucket: EventRate a second, EventBurst at once); over it an event is
	// refused with "rate_limited". Generous: editors send tens a second.
	// Zero: EventRateDefault, EventBurstDefault.
	EventRate  float64
	EventBurst int
	// AwarenessRate and AwarenessBurst bound one socket's awareness updates
	// per document; over it an update is refused with "rate_limited" and not
	// relayed. Zero: AwarenessRateDefault, AwarenessBurstDefault.
	AwarenessRate  float64
	AwarenessBurst int
	// MaxRateStrikes closes a socket that keeps going over a rate: each
	// rate_limited refusal adds a strike, strikes leak 15 a second, and a
	// socket with more than MaxRateStrikes is closed. Zero:
	// MaxRateStrikesDefault.
	MaxRateStrikes int
	// Now is the rate limiters' clock. Nil: time.Now.
	Now func() time.Time
	// Broker carries every room message and command (broker.go). Nil: a
	// MemoryBroker of this instance alone. The Server starts and stops it.
	Broker Broker
	// Instance names this server among a deployment's. Zero: random.
	Instance string
	// Drain, if set, runs in Stop once every socket is closed and before the
	// broker stops: the server lets its documents store and relay what they
	// accepted, so other instances get it through the broker.
	Drain func(ctx context.Context) error
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
	c.AuthTimeout = cmp.Or(c.AuthTimeout, AuthTimeoutDefault)
	c.MaxDocuments = cmp.Or(c.MaxDocuments, MaxDocumentsDefault)
	c.EventRate = cmp.Or(c.EventRate, EventRateDefault)
	c.EventBurst = cmp.Or(c.EventBurst, EventBurstDefault)
	c.AwarenessRate = cmp.Or(c.AwarenessRate, AwarenessRateDefault)
	c.AwarenessBurst = cmp.Or(c.AwarenessBurst, AwarenessBurstDefault)
	c.MaxRateStrikes = cmp.Or(c.MaxRateStrikes, MaxRateStrikesDefault)
	if c.Now == nil {
		c.Now = time.Now
	}
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
	case c.MaxDocuments < 0, c.EventRate < 0, c.EventBurst < 0, c.AwarenessRate < 0, c.AwarenessBurst < 0, c.MaxRateStrikes < 0:
		return errors.New("realtime: Config's limits must be positive")
	}
	return nil
}

// randomInstance is a process-unique instance id.
func randomInstance() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
