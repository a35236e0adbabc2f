package auth_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/quire/quire/auth"
	"github.com/quire/quire/storage"
)

var secret = []byte("auth-test-secret-0123456789abcdef")

type testBundle struct {
	store storage.Store
	auth  *auth.Authenticator
	user  *storage.User
	now   time.Time
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	ctx := context.Background()
	st, err := storage.OpenSQLite(ctx, filepath.Join(t.TempDir(), "quire.db"), nil)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	b := &testBundle{store: st, now: time.Now()}
	b.auth, err = auth.NewAuthenticator(auth.Config{Store: st, Secret: secret, Now: func() time.Time { return b.now }})
	require.NoError(t, err)
	b.user = &storage.User{Email: "ada@example.com", Name: "Ada", PasswordHash: "x", SessionStamp: auth.NewSessionStamp()}
	require.NoError(t, st.CreateUser(ctx, b.user))
	return b
}

func TestPassword(t *testing.T) {
	t.Parallel()
	h, err := auth.HashPasswordParams("s3cret pw", auth.LowCostParams)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$"), h)
	require.True(t, auth.CheckPassword(h, "s3cret pw"))
	require.False(t, auth.CheckPassword(h, "s3cret pW"))
	require.False(t, auth.CheckPassword(h, ""))

	h2, err := auth.HashPasswordParams("s3cret pw", auth.LowCostParams)
	require.NoError(t, err)
	require.NotEqual(t, h, h2, "salted")

	for _, bad := range []string{"", "x", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=18$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=4294967295,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=64,t=1,p=1$!!!$a2V5a2V5a2V5a2V5a2V5",
		strings.Replace(h, "$argon2id$", "$argon2id$$", 1)} {
		require.False(t, auth.CheckPassword(bad, "s3cret pw"), bad)
	}
}

func TestDefaultParamsAreSane(t *testing.T) {
	t.Parallel()
	require.GreaterOrEqual(t, auth.DefaultParams.Memory, uint32(19*1024))
	require.GreaterOrEqual(t, auth.DefaultParams.Time, uint32(2))
}

func TestIssueVerify(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	tok, c, err := b.auth.IssueClaims(ctx, b.user)
	require.NoError(t, err)
	require.Equal(t, b.user.ID, c.UserID)
	require.Equal(t, b.user.SessionStamp, c.SessionStamp)
	require.Len(t, c.ID, 36, "uuid jti")
	require.Equal(t, b.now.Add(auth.TokenTTLDefault).Unix(), c.ExpiresAt.Unix())

	u, got, err := b.auth.Verify(ctx, tok)
	require.NoError(t, err)
	require.Equal(t, b.user.ID, u.ID)
	require.Equal(t, c.ID, got.ID)

	// The claims on the wire are named as Open WebUI's.
	var raw jwt.MapClaims
	_, _, err = jwt.NewParser().ParseUnverified(tok, &raw)
	require.NoError(t, err)
	for _, k := range []string{"id", "iat", "jti", "exp", "session_stamp"} {
		require.Contains(t, raw, k)
	}
	require.NotContains(t, raw, "service", "a sign-in token is no service token")
	require.False(t, got.Service)

	// A service token (quire token) says so, and verifies as any other.
	stok, err := b.auth.IssueService(ctx, b.user)
	require.NoError(t, err)
	u, got, err = b.auth.Verify(ctx, stok)
	require.NoError(t, err)
	require.Equal(t, b.user.ID, u.ID)
	require.True(t, got.Service)
}

func TestVerifyRejects(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	good, c, err := b.auth.IssueClaims(ctx, b.user)
	require.NoError(t, err)

	sign := func(m jwt.SigningMethod, key any, claims jwt.Claims) string {
		s, err := jwt.NewWithClaims(m, claims).SignedString(key)
		require.NoError(t, err)
		return s
	}
	claims := func(edit func(*auth.Claims)) *auth.Claims {
		cc := *c
		edit(&cc)
		return &cc
	}
	cases := map[string]string{
		"empty":        "",
		"garbage":      "not.a.token",
		"wrong secret": sign(jwt.SigningMethodHS256, []byte("another-secret-0123456789"), c),
		"alg none":     sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, c),
		"HS512":        sign(jwt.SigningMethodHS512, secret, c),
		"expired": sign(jwt.SigningMethodHS256, secret, claims(func(c *auth.Claims) {
			c.ExpiresAt = jwt.NewNumericDate(b.now.Add(-time.Minute))
		})),
		"no exp":      sign(jwt.SigningMethodHS256, secret, claims(func(c *auth.Claims) { c.ExpiresAt = nil })),
		"no jti":      sign(jwt.SigningMethodHS256, secret, claims(func(c *auth.Claims) { c.ID = "" })),
		"no id":       sign(jwt.SigningMethodHS256, secret, claims(func(c *auth.Claims) { c.UserID = "" })),
		"no such id":  sign(jwt.SigningMethodHS256, secret, claims(func(c *auth.Claims) { c.UserID = "ghost" })),
		"wrong stamp": sign(jwt.SigningMethodHS256, secret, claims(func(c *auth.Claims) { c.SessionStamp = "old" })),
		"tampered":    good[:len(good)-2] + "xx",
	}
	for name, tok := range cases {
		_, _, err := b.auth.Verify(ctx, tok)
		require.ErrorIs(t, err, auth.ErrUnauthenticated, name)
	}
	_, _, err = b.auth.Verify(ctx, good)
	require.NoError(t, err, "the untouched token still works")

	// Time passes: the token expires.
	b.now = b.now.Add(auth.TokenTTLDefault + time.Second)
	_, _, err = b.auth.Verify(ctx, good)
	require.ErrorIs(t, err, auth.ErrUnauthenticated)
}

func TestSignOutAndRoles(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	t1, c1, err := b.auth.IssueClaims(ctx, b.user)
	require.NoError(t, err)
	t2, err := b.auth.Issue(ctx, b.user)
	require.NoError(t, err)

	require.NoError(t, b.auth.SignOut(ctx, c1))
	_, revoked, err := b.store.GetSessionUser(ctx, b.user.ID, c1.ID)
	require.NoError(t, err)
	require.True(t, revoked)
	for _, tok := range []string{t1, t2} {
		_, _, err := b.auth.Verify(ctx, tok)
		require.ErrorIs(t, err, auth.ErrUnauthenticated, "sign-out revokes every token of the account")
	}

	u, err := b.store.GetUser(ctx, b.user.ID)
	require.NoError(t, err)
	t3, err := b.auth.Issue(ctx, u)
	require.NoError(t, err)
	_, _, err = b.auth.Verify(ctx, t3)
	require.NoError(t, err, "a new sign-in works")

	// A pending account is unauthenticated; a role change re-stamps.
	require.NoError(t, b.store.UpdateUserRole(ctx, u.ID, storage.RolePending, u.SessionStamp))
	_, _, err = b.auth.Verify(ctx, t3)
	require.ErrorIs(t, err, auth.ErrUnauthenticated)
	require.NoError(t, b.store.UpdateUserRole(ctx, u.ID, storage.RoleUser, u.SessionStamp))
	_, _, err = b.auth.Verify(ctx, t3)
	require.NoError(t, err)
}

func TestNewAuthenticatorChecksConfig(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := auth.NewAuthenticator(auth.Config{Store: b.store, Secret: []byte("short")})
	require.Error(t, err)
	_, err = auth.NewAuthenticator(auth.Config{Secret: secret})
	require.Error(t, err)
}

func TestCanAccessNote(t *testing.T) {
	t.Parallel()
	owner := &storage.User{ID: "o", Role: storage.RoleUser}
	admin := &storage.User{ID: "a", Role: storage.RoleAdmin}
	reader := &storage.User{ID: "r", Role: storage.RoleUser}
	writer := &storage.User{ID: "w", Role: storage.RoleUser}
	stranger := &storage.User{ID: "s", Role: storage.RoleUser}
	pendingOwner := &storage.User{ID: "o", Role: storage.RolePending}
	n := &storage.Note{ID: "n", UserID: "o", AccessGrants: []storage.AccessGrant{
		{PrincipalType: "user", PrincipalID: "r", Permission: storage.PermRead},
		{PrincipalType: "user", PrincipalID: "w", Permission: storage.PermWrite},
		{PrincipalType: "group", PrincipalID: "s", Permission: storage.PermWrite},
	}}
	cases := []struct {
		u           *storage.User
		read, write bool
	}{
		{owner, true, true}, {admin, true, true}, {reader, true, false}, {writer, true, true},
		{stranger, false, false}, {pendingOwner, false, false}, {nil, false, false},
	}
	for _, c := range cases {
		name := "nil"
		if c.u != nil {
			name = c.u.ID + "/" + c.u.Role
		}
		require.Equal(t, c.read, auth.CanAccessNote(c.u, n, storage.PermRead), name)
		require.Equal(t, c.write, auth.CanAccessNote(c.u, n, storage.PermWrite), name)
		require.False(t, auth.CanAccessNote(c.u, n, "delete"), name)
	}
}
