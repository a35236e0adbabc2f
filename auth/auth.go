package auth

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/quire/quire/storage"
)

// TokenTTLDefault is how long an issued token is valid.
const TokenTTLDefault = 30 * 24 * time.Hour

// MinSecretBytes is the shortest signing key accepted.
const MinSecretBytes = 16

// ErrUnauthenticated: the token is missing, malformed, badly signed,
// expired, revoked, or its account is gone, pending or re-stamped. Callers
// answer 401 and never say which.
var ErrUnauthenticated = errors.New("auth: unauthenticated")

// Config configures an Authenticator.
type Config struct {
	// Store looks up accounts and revoked tokens. Required.
	Store storage.Store
	// Secret signs tokens (HS256). Required; at least MinSecretBytes.
	Secret []byte
	// TokenTTL is the lifetime of issued tokens. Zero: TokenTTLDefault.
	TokenTTL time.Duration
	// Password is the argon2id cost for new hashes. Zero: DefaultParams.
	Password Params
	// Now is the clock. Nil: time.Now.
	Now func() time.Time
}

// WithDefaults returns cfg with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	c.TokenTTL = cmp.Or(c.TokenTTL, TokenTTLDefault)
	if c.Password == (Params{}) {
		c.Password = DefaultParams
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Claims are the JWT claims Quire issues: id (the account), session_stamp,
// and the registered iat, exp and jti (RegisteredClaims.ID). Service marks
// a token an operator made with `quire token` for a backend service
// (IssueService): besides its account's rights it may push events
// (POST /api/v1/events/emit).
type Claims struct {
	UserID       string `json:"id"`
	SessionStamp string `json:"session_stamp"`
	Service      bool   `json:"service,omitempty"`
	jwt.RegisteredClaims
}

// Authenticator issues and verifies tokens.
type Authenticator struct {
	cfg    Config
	parser *jwt.Parser
}

// NewAuthenticator checks cfg and returns an Authenticator.
func NewAuthenticator(cfg Config) (*Authenticator, error) {
	cfg = cfg.WithDefaults()
	if cfg.Store == nil {
		return nil, errors.New("auth: Config.Store is required")
	}
	if len(cfg.Secret) < MinSecretBytes {
		return nil, fmt.Errorf("auth: secret must be at least %d bytes", MinSecretBytes)
	}
	if cfg.TokenTTL < 0 {
		return nil, errors.New("auth: TokenTTL must not be negative")
	}
	return &Authenticator{
		cfg: cfg,
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), // no "none", no RS/HS confusion
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithTimeFunc(cfg.Now),
		),
	}, nil
}

// TokenTTL is the lifetime of issued tokens.
func (a *Authenticator) TokenTTL() time.Duration { return a.cfg.TokenTTL }

// HashPassword hashes pw with the configured cost.
func (a *Authenticator) HashPassword(pw string) (string, error) {
	return HashPasswordParams(pw, a.cfg.Password)
}

// Issue signs a new token for u, carrying u's current session stamp.
func (a *Authenticator) Issue(ctx context.Context, u *storage.User) (string, error) {
	tok, _, err := a.IssueClaims(ctx, u)
	return tok, err
}

// IssueService signs a service token for u (Claims.Service): only an
// operator, who holds the secret, makes these (`quire token`).
func (a *Authenticator) IssueService(ctx context.Context, u *storage.User) (string, error) {
	tok, _, err := a.issue(ctx, u, true)
	return tok, err
}

// IssueClaims is Issue that also returns the claims signed.
func (a *Authenticator) IssueClaims(ctx context.Context, u *storage.User) (string, *Claims, error) {
	return a.issue(ctx, u, false)
}

func (a *Authenticator) issue(_ context.Context, u *storage.User, service bool) (string, *Claims, error) {
	if u == nil || u.ID == "" {
		return "", nil, errors.New("auth: issue: no account")
	}
	now := a.cfg.Now()
	c := &Claims{
		UserID:       u.ID,
		SessionStamp: u.SessionStamp,
		Service:      service,
		RegisteredClaims: jwt.RegisteredClaims{
			ID:        uuid.NewString(),
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(a.cfg.TokenTTL)),
		},
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(a.cfg.Secret)
	if err != nil {
		return "", nil, fmt.Errorf("auth: sign: %w", err)
	}
	return tok, c, nil
}

// Verify checks the token's signature (HS256 only), expiry, account (exists,
// role user or admin), session stamp and revocation, and returns the account
// and claims. Every rejection is ErrUnauthenticated; any other error is a
// storage fault (fail closed).
func (a *Authenticator) Verify(ctx context.Context, token string) (*storage.User, *Claims, error) {
	return a.verify(ctx, token, false)
}

// VerifyREST is Verify that also accepts a pending account, for the REST
// layer, which lets it read its own account and nothing else. Sockets keep
// Verify: a pending account has no live session.
func (a *Authenticator) VerifyREST(ctx context.Context, token string) (*storage.User, *Claims, error) {
	return a.verify(ctx, token, true)
}

func (a *Authenticator) verify(ctx context.Context, token string, allowPending bool) (*storage.User, *Claims, error) {
	if token == "" {
		return nil, nil, ErrUnauthenticated
	}
	c := &Claims{}
	_, err := a.parser.ParseWithClaims(token, c, func(*jwt.Token) (any, error) { return a.cfg.Secret, nil })
	if err != nil || c.UserID == "" || c.ID == "" || c.IssuedAt == nil {
		return nil, nil, ErrUnauthenticated
	}
	u, revoked, err := a.cfg.Store.GetSessionUser(ctx, c.UserID, c.ID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil, ErrUnauthenticated
	}
	if err != nil {
		return nil, nil, fmt.Errorf("auth: verify: %w", err)
	}
	if u.Role != storage.RoleUser && u.Role != storage.RoleAdmin && !(allowPending && u.Role == storage.RolePending) {
		return nil, nil, ErrUnauthenticated
	}
	if subtle.ConstantTimeCompare([]byte(c.SessionStamp), []byte(u.SessionStamp)) != 1 {
		return nil, nil, ErrUnauthenticated
	}
	if revoked {
		return nil, nil, ErrUnauthenticated
	}
	return u, c, nil
}

// SignOut revokes the token with claims c and rotates its account's session
// stamp, so that every other token of the account stops working too.
func (a *Authenticator) SignOut(ctx context.Context, c *Claims) error {
	exp := a.cfg.Now().Add(a.cfg.TokenTTL)
	if c.ExpiresAt != nil {
		exp = c.ExpiresAt.Time
	}
	if err := a.cfg.Store.RevokeToken(ctx, c.ID, exp.Unix()); err != nil {
		return fmt.Errorf("auth: sign out: %w", err)
	}
	if err := a.cfg.Store.SetSessionStamp(ctx, c.UserID, NewSessionStamp()); err != nil {
		return fmt.Errorf("auth: sign out: %w", err)
	}
	return nil
}

// NewSessionStamp returns a fresh random session stamp.
func NewSessionStamp() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}
