package server

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/quire/quire/api"
	"github.com/quire/quire/auth"
	"github.com/quire/quire/chat"
	"github.com/quire/quire/web"
	"github.com/quire/quire/ydoc"
)

// Defaults (protocol §9.1).
const (
	AddrDefault             = "127.0.0.1:8080"
	DataDirDefault          = "./quire-data"
	MaxMessageBytesDefault  = 16 << 20
	MaxDocumentBytesDefault = 64 << 20
	LogLevelDefault         = "info"
	ShutdownTimeoutDefault  = 10 * time.Second
	ReadTimeoutDefault      = 30 * time.Second
	RedisPrefixDefault      = "quire:"
	MaxConnsPerIPDefault    = 256
)

// Config is everything a Quire server is built from. cmd/quire fills it
// from flags and environment; tests fill it directly.
type Config struct {
	// Addr is the listen address (--addr). Zero: AddrDefault. Port 0 picks
	// a free port (see Server.Addr).
	Addr string
	// DataDir holds the SQLite database and the generated secret
	// (--data-dir). Zero: DataDirDefault.
	DataDir string
	// DatabaseURL selects PostgreSQL (postgres://…) (--database-url).
	// Zero: SQLite at <DataDir>/quire.db.
	DatabaseURL string
	// RedisURL makes this one of several instances sharing rooms, presence
	// and documents through Redis (--redis-url); it needs DatabaseURL and
	// Secret, which every instance must share. Zero: one instance.
	RedisURL string
	// RedisPrefix starts every Redis key and channel, so deployments (or
	// test runs) sharing one Redis stay apart (--redis-prefix). Zero:
	// RedisPrefixDefault.
	RedisPrefix string
	// Instance names this process among the deployment's. Zero: random per
	// process (test knob; never set two instances alike).
	Instance string
	// Secret signs tokens (--secret). Zero: read from <DataDir>/secret,
	// created with 32 random bytes at first start.
	Secret string
	// MaxMessageBytes bounds one Socket.IO message (--max-message-bytes).
	// Zero: MaxMessageBytesDefault.
	MaxMessageBytes int
	// MaxDocumentBytes bounds one document's encoded state
	// (--max-document-bytes). Zero: MaxDocumentBytesDefault.
	MaxDocumentBytes int
	// LogLevel is debug, info, warn or error (--log-level); cmd/quire
	// builds the logger from it. Zero: LogLevelDefault.
	LogLevel string
	// Version is reported in /metrics. Zero: "dev".
	Version string
	// PprofAddr, when set, serves net/http/pprof on its own listener
	// (--pprof-addr), never on the public one. Zero: off.
	PprofAddr string
	// MetricsAddr, when set, serves /metrics on its own listener
	// (--metrics-addr) and the public one answers 404 there. Zero: /metrics
	// on Addr.
	MetricsAddr string
	// PublicURL is the URL users open (--public-url); when set, requests
	// and socket upgrades whose Host is not its host are refused (421), so
	// a DNS-rebound name cannot reach the server. Zero: any Host.
	PublicURL string
	// MaxConnsPerIP caps the open connections of one client address
	// (--max-conns-per-ip); loopback addresses are exempt (a local reverse
	// proxy's connections all come from loopback). Zero:
	// MaxConnsPerIPDefault; negative: no cap.
	MaxConnsPerIP int
	// MaxConns caps the open connections (--max-conns): while more are
	// open, a new Socket.IO session gets 503 (counted in
	// quire_server_refused_total{reason="capacity"}) and the file
	// descriptors left keep /healthz, the API and the database working;
	// sessions already open are not touched. Zero: the soft RLIMIT_NOFILE
	// minus FDReserve; negative: no cap.
	MaxConns int
	// OpenAIBaseURLs are the OpenAI-compatible upstreams of chat, ';'-
	// separated (--openai-base-url). Zero: no models.
	OpenAIBaseURLs string
	// OpenAIAPIKeys are their keys, ';'-separated, by position
	// (--openai-api-key). Zero: no Authorization header.
	OpenAIAPIKeys string
	// WebUIDir serves a frontend build (e.g. the stock Open WebUI one) from
	// this directory at / instead of the embedded app (--webui-dir). Zero:
	// the embedded app.
	WebUIDir string

	// Test knobs.

	// ShutdownTimeout bounds Stop when its context has no deadline.
	// Zero: ShutdownTimeoutDefault.
	ShutdownTimeout time.Duration
	// TokenTTL of issued tokens. Zero: auth.TokenTTLDefault.
	TokenTTL time.Duration
	// PasswordParams is the argon2id cost. Zero: auth.DefaultParams;
	// tests use auth.LowCostParams.
	PasswordParams auth.Params
	// MaxNoteBodyBytes and MaxAuthBodyBytes cap REST bodies. Zero: the api
	// package defaults (8 MiB, 64 KiB).
	MaxNoteBodyBytes int64
	MaxAuthBodyBytes int64
	// Now is the clock of tokens and timestamps. Nil: time.Now.
	Now func() time.Time
	// ReadTimeout bounds the reading of one request body (websocket
	// upgrades and bodiless requests excepted). Zero: ReadTimeoutDefault.
	ReadTimeout time.Duration
	// LimitLoopback applies MaxConnsPerIP to loopback addresses too.
	LimitLoopback bool
	// Polling serves Socket.IO over HTTP long-polling only (realtime
	// Config.EnablePolling).
	Polling bool
	// AuthLimits bound sign-in and sign-up abuse (zero fields: defaults).
	AuthLimits api.AuthLimits
	// SignupDisabled (--enable-signup=false) refuses sign-ups but the first.
	SignupDisabled bool
	// DefaultUserRole (--default-user-role) of every account but the first:
	// pending, user or admin. Empty: DefaultUserRoleDefault.
	DefaultUserRole string
	// CommitLinger (--commit-linger) is how long the document writer waits
	// for more updates to share a commit (ydoc.Config.CommitLinger). Zero:
	// commit at once.
	CommitLinger time.Duration
	// DocIdleTimeout, DocInactiveTimeout and DocCompactRows
	// (--doc-idle-timeout, --doc-inactive-timeout, --doc-compact-rows) are
	// ydoc.Config's IdleTimeout, InactiveTimeout and CompactRows: small
	// values unload, reload and compact documents often (stress tests).
	// Zero: the ydoc defaults.
	DocIdleTimeout     time.Duration
	DocInactiveTimeout time.Duration
	DocCompactRows     int
	// ChatIdleTimeout bounds the wait for an upstream's streamed answer and
	// between its lines. Zero: chat.IdleTimeoutDefault.
	ChatIdleTimeout time.Duration
	// ChatTimeout (--chat-timeout) bounds a non-streamed completion as a
	// whole (chat.Config.Timeout). Zero: chat.TimeoutDefault.
	ChatTimeout time.Duration
	// ChatModelsTimeout bounds one upstream's model list. Zero:
	// chat.ModelsTimeoutDefault.
	ChatModelsTimeout time.Duration
	// ChatFlushInterval and ChatFlushBytes batch a chat task's text events
	// (api.Config; no flags). Zero: api.ChatFlushIntervalDefault,
	// api.ChatFlushBytesDefault.
	ChatFlushInterval time.Duration
	ChatFlushBytes    int
	// ChannelAnswerInterval spaces the updates of a model's answer into a
	// channel (api.Config; no flag). Zero: api.ChannelAnswerIntervalDefault.
	ChannelAnswerInterval time.Duration
	// MaxChatBytes caps a saved chat's conversation object (api.Config;
	// no flag). Zero: api.MaxChatBytesDefault.
	MaxChatBytes int64
}

// DefaultUserRoleDefault is the role of a new account but the first.
const DefaultUserRoleDefault = "user"

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	c.Addr = cmp.Or(c.Addr, AddrDefault)
	c.DataDir = cmp.Or(c.DataDir, DataDirDefault)
	c.MaxMessageBytes = cmp.Or(c.MaxMessageBytes, MaxMessageBytesDefault)
	c.MaxDocumentBytes = cmp.Or(c.MaxDocumentBytes, MaxDocumentBytesDefault)
	c.LogLevel = cmp.Or(c.LogLevel, LogLevelDefault)
	c.Version = cmp.Or(c.Version, "dev")
	c.ShutdownTimeout = cmp.Or(c.ShutdownTimeout, ShutdownTimeoutDefault)
	c.ReadTimeout = cmp.Or(c.ReadTimeout, ReadTimeoutDefault)
	c.MaxConnsPerIP = cmp.Or(c.MaxConnsPerIP, MaxConnsPerIPDefault)
	c.DefaultUserRole = cmp.Or(c.DefaultUserRole, DefaultUserRoleDefault)
	c.RedisPrefix = cmp.Or(c.RedisPrefix, RedisPrefixDefault)
	return c
}

// Validate reports the first bad setting, naming its flag.
func (c Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("--addr %q: want host:port", c.Addr)
	}
	if c.PprofAddr != "" {
		if _, _, err := net.SplitHostPort(c.PprofAddr); err != nil {
			return fmt.Errorf("--pprof-addr %q: want host:port", c.PprofAddr)
		}
	}
	if c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			return fmt.Errorf("--metrics-addr %q: want host:port", c.MetricsAddr)
		}
	}
	if c.PublicURL != "" {
		if _, _, ok := parsePublicURL(c.PublicURL); !ok {
			return fmt.Errorf("--public-url %q: want http://host[:port] or https://host[:port]", c.PublicURL)
		}
	}
	if strings.TrimSpace(c.DataDir) == "" {
		return errors.New("--data-dir must not be empty")
	}
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		return errors.New("--database-url: want postgres://… or postgresql://… (or unset for SQLite)")
	}
	if c.RedisURL != "" && !strings.HasPrefix(c.RedisURL, "redis://") && !strings.HasPrefix(c.RedisURL, "rediss://") {
		return errors.New("--redis-url: want redis://… or rediss://…")
	}
	if c.RedisURL != "" {
		// Instances share the database and the signing key, or a token one
		// issued is refused by the next and a note edited on one is missing
		// on another.
		if c.DatabaseURL == "" {
			return errors.New("--redis-url needs --database-url: instances must share one PostgreSQL database (SQLite is one process's)")
		}
		if c.Secret == "" {
			return errors.New("--redis-url needs --secret: instances must share one signing key (a generated one is per data directory)")
		}
	}
	if strings.ContainsAny(c.RedisPrefix, " \t\r\n*?[]") {
		return fmt.Errorf("--redis-prefix %q: no spaces or glob characters", c.RedisPrefix)
	}
	if c.Secret != "" && len(c.Secret) < auth.MinSecretBytes {
		return fmt.Errorf("--secret must be at least %d bytes", auth.MinSecretBytes)
	}
	if c.MaxMessageBytes < 1024 {
		return errors.New("--max-message-bytes must be at least 1024")
	}
	if c.MaxDocumentBytes < 1024 {
		return errors.New("--max-document-bytes must be at least 1024")
	}
	if _, err := ParseLogLevel(c.LogLevel); err != nil {
		return err
	}
	switch c.DefaultUserRole {
	case "pending", "user", "admin":
	default:
		return fmt.Errorf("--default-user-role %q: want pending, user or admin", c.DefaultUserRole)
	}
	if _, err := c.Upstreams(); err != nil {
		return err
	}
	if c.WebUIDir != "" {
		if err := web.CheckWebUIDir(c.WebUIDir); err != nil {
			return err
		}
	}
	if c.CommitLinger < 0 || c.CommitLinger > ydoc.MaxCommitLinger {
		return fmt.Errorf("--commit-linger %s: want 0 to %s", c.CommitLinger, ydoc.MaxCommitLinger)
	}
	if c.DocIdleTimeout < 0 || c.DocInactiveTimeout < 0 || c.DocCompactRows < 0 {
		return errors.New("--doc-idle-timeout, --doc-inactive-timeout and --doc-compact-rows must not be negative")
	}
	if c.ChatTimeout < 0 {
		return errors.New("--chat-timeout must not be negative")
	}
	if c.ChatIdleTimeout < 0 || c.ChatModelsTimeout < 0 || c.ChatFlushInterval < 0 || c.ChatFlushBytes < 0 || c.ChannelAnswerInterval < 0 || c.MaxChatBytes < 0 ||
		c.ShutdownTimeout < 0 || c.ReadTimeout < 0 || c.TokenTTL < 0 || c.MaxNoteBodyBytes < 0 || c.MaxAuthBodyBytes < 0 {
		return errors.New("durations and body limits must not be negative")
	}
	return nil
}

// ParseLogLevel turns --log-level into a slog level.
func ParseLogLevel(s string) (slog.Level, error) {
	var l slog.Level
	switch strings.ToLower(s) {
	case "debug", "info", "warn", "error":
		return l, l.UnmarshalText([]byte(s))
	}
	return l, fmt.Errorf("--log-level %q: want debug, info, warn or error", s)
}

// Upstreams parses --openai-base-url and --openai-api-key.
func (c Config) Upstreams() ([]chat.Upstream, error) {
	return chat.ParseUpstreams(c.OpenAIBaseURLs, c.OpenAIAPIKeys, "--openai-base-url", "--openai-api-key")
}
