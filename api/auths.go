package api

import (
	"context"
	"errors"
	"net/http"
	"net/mail"
	"strings"
	"unicode/utf8"

	"github.com/quire/quire/auth"
	"github.com/quire/quire/storage"
)

// msgPending answers a pending account anywhere but its own account.
const msgPending = "Your account is awaiting an administrator's approval"

// Account field limits.
const (
	MinPasswordBytes = 8
	MaxPasswordBytes = 256
	MaxNameRunes     = 100
	MaxEmailBytes    = 254
)

type session struct {
	user   *storage.User
	claims *auth.Claims
	token  string
	// viaCookie: the token came from the token cookie, not the
	// Authorization header.
	viaCookie bool
}

// authed runs h for a verified user or admin; a pending account gets 403,
// anyone else 401.
func (a *API) authed(h func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return a.authedAs(false, false, h)
}

// authedPending is authed that also runs h for a pending account (it may
// read its own account and sign out until an admin changes its role).
func (a *API) authedPending(h func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return a.authedAs(true, false, h)
}

// authedAs verifies the caller's token: the Authorization header's, else
// the token cookie's (the frontend authenticates a few requests, such as
// sign-out and <img> avatars, by cookie only). A cookie-authenticated
// request that changes state (any method but GET and HEAD, or a route
// marked changesState) must be labelled application/json, as every JSON
// body must: another site's page cannot send that label without a CORS
// preflight, which this server never grants, so it cannot act with the
// visitor's cookie (SameSite=Lax already keeps the cookie off cross-site
// subrequests; this also covers sibling subdomains and top-level GETs).
func (a *API) authedAs(pendingOK, changesState bool, h func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, viaCookie, ok := credentials(r)
		if !ok {
			writeError(w, http.StatusUnauthorized, msgUnauthenticated)
			return
		}
		if viaCookie && (changesState || (r.Method != http.MethodGet && r.Method != http.MethodHead)) && !jsonLabelled(r) {
			writeError(w, http.StatusUnsupportedMediaType, msgCookieNeedsJSON)
			return
		}
		u, c, err := a.cfg.Auth.VerifyREST(r.Context(), tok)
		if errors.Is(err, auth.ErrUnauthenticated) {
			writeError(w, http.StatusUnauthorized, msgUnauthenticated)
			return
		}
		if err != nil {
			a.internalError(w, r, "verify token", err)
			return
		}
		if u.Role == storage.RolePending && !pendingOK {
			writeError(w, http.StatusForbidden, msgPending)
			return
		}
		h(w, r, &session{user: u, claims: c, token: tok, viaCookie: viaCookie})
	}
}

// msgCookieNeedsJSON refuses a cookie-authenticated change without the
// application/json label.
const msgCookieNeedsJSON = "A request authenticated by cookie that changes something must be sent with Content-Type: application/json (or use the Authorization header)"

// credentials returns the request's token: the Authorization header's if
// it has one (even a bad one: Open WebUI's rule), else the token cookie's.
func credentials(r *http.Request) (tok string, viaCookie, ok bool) {
	if r.Header.Get("Authorization") != "" {
		tok, ok = bearer(r)
		return tok, false, ok
	}
	c, err := r.Cookie(TokenCookie)
	if err != nil || c.Value == "" {
		return "", false, false
	}
	return c.Value, true, true
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// optionalUser is the caller's account (pending ones included) when the
// request carries a token that verifies, else nil: for endpoints that
// answer everyone and say more to the signed-in.
func (a *API) optionalUser(r *http.Request) *storage.User {
	tok, _, ok := credentials(r)
	if !ok {
		return nil
	}
	u, _, err := a.cfg.Auth.VerifyREST(r.Context(), tok)
	if err != nil {
		return nil
	}
	return u
}

// TokenCookie is the cookie that carries the session token (Open WebUI's
// name; the frontend checks document.cookie for it too).
const TokenCookie = "token"

// setTokenCookie sets the session cookie: HttpOnly, whole site, SameSite
// Lax, Secure when the browser reached us over https, expiring with the
// token.
func (a *API) setTokenCookie(w http.ResponseWriter, r *http.Request, tok string, c *auth.Claims) {
	ck := &http.Cookie{Name: TokenCookie, Value: tok, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: a.secureCookie(r)}
	if c != nil && c.ExpiresAt != nil {
		ck.Expires = c.ExpiresAt.Time
	}
	http.SetCookie(w, ck)
}

// clearTokenCookie removes the session cookie.
func (a *API) clearTokenCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: TokenCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: a.secureCookie(r)})
}

// secureCookie reports whether the browser reached us over https: TLS here,
// an https --public-url, or a proxy's X-Forwarded-Proto: https. Trusting
// that header needs no trusted-proxy list: it can only add Secure, and a
// client that forges it only keeps its own cookie off plain http.
func (a *API) secureCookie(r *http.Request) bool {
	if r.TLS != nil || a.cfg.SecureCookie {
		return true
	}
	proto, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ",")
	return strings.EqualFold(strings.TrimSpace(proto), "https")
}

// sessionResponse is Open WebUI's SessionUserResponse: the frontend uses
// it as the signed-in user as is.
type sessionResponse struct {
	ID              string      `json:"id"`
	Email           string      `json:"email"`
	Name            string      `json:"name"`
	Role            string      `json:"role"`
	ProfileImageURL string      `json:"profile_image_url"`
	Token           string      `json:"token"`
	TokenType       string      `json:"token_type"`
	ExpiresAt       int64       `json:"expires_at"`
	Permissions     permissions `json:"permissions"`
}

func newSessionResponse(u *storage.User, tok string, c *auth.Claims) sessionResponse {
	resp := sessionResponse{ID: u.ID, Email: u.Email, Name: u.Name, Role: u.Role, ProfileImageURL: profileImageURL(u.ID),
		Token: tok, TokenType: "Bearer", Permissions: userPermissions()}
	if c != nil && c.ExpiresAt != nil {
		resp.ExpiresAt = c.ExpiresAt.Unix()
	}
	return resp
}

type signupForm struct {
	Name     string `json:"name"`
	Email    string `json:"email"`
	Password string `json:"password"`
}

func (a *API) signup(w http.ResponseWriter, r *http.Request) {
	var f signupForm
	if !readJSON(w, r, a.cfg.MaxAuthBodyBytes, &f) {
		return
	}
	name := strings.TrimSpace(f.Name)
	email, err := normalizeEmail(f.Email)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	switch n := utf8.RuneCountInString(name); {
	case n == 0 || n > MaxNameRunes || !cleanText(name):
		writeError(w, http.StatusBadRequest, "name must be 1 to 100 characters")
		return
	case len(f.Password) < MinPasswordBytes || len(f.Password) > MaxPasswordBytes:
		writeError(w, http.StatusBadRequest, "password must be 8 to 256 bytes")
		return
	}
	addr, limited := a.clientAddr(r)
	if tooMany(w, waitIf(a.limits.signup, addr, limited, a.cfg.Now())) {
		return
	}
	if limited {
		a.limits.signup.Fail(addr, a.cfg.Now()) // every sign-up counts against its address
	}
	var hash string
	if !a.hash(w, r, func() { hash, err = a.cfg.Auth.HashPassword(f.Password) }) {
		return
	}
	if err != nil {
		a.internalError(w, r, "hash password", err)
		return
	}
	now := a.cfg.Now().Unix()
	u := &storage.User{
		Email: email, Name: name, PasswordHash: hash, SessionStamp: auth.NewSessionStamp(),
		CreatedAt: now, UpdatedAt: now, LastActiveAt: now,
	}
	if a.cfg.SignupDisabled {
		// The first account may always be made: it is the admin. Storage
		// decides in the insert's transaction, so two racing sign-ups on an
		// empty database make one admin and one refusal.
		u.Role = storage.RoleFirstOnly
	}
	err = a.cfg.Store.CreateUser(r.Context(), u)
	if errors.Is(err, storage.ErrNotFirst) {
		writeError(w, http.StatusForbidden, "Sign-up is disabled; ask an administrator")
		return
	}
	if errors.Is(err, storage.ErrConflict) {
		writeError(w, http.StatusBadRequest, msgEmailTaken)
		return
	} else if err != nil {
		a.internalError(w, r, "create user", err)
		return
	}
	// Storage made the first account admin and any other a user; the policy
	// may want another role for the others.
	if role := a.cfg.DefaultUserRole; role != "" && u.Role == storage.RoleUser && role != storage.RoleUser {
		stamp := auth.NewSessionStamp()
		if err := a.cfg.Store.UpdateUserRole(r.Context(), u.ID, role, stamp); err != nil {
			a.internalError(w, r, "set default role", err)
			return
		}
		u.Role, u.SessionStamp = role, stamp
	}
	a.log.InfoContext(r.Context(), "account created", "user", u.ID, "role", u.Role)
	a.respondSession(w, r, u)
}

// normalizeEmail trims and lower-cases an address and checks it is one bare
// addr-spec with a dotted domain.
func normalizeEmail(s string) (string, error) {
	bad := errors.New("email is not a valid address")
	e := strings.ToLower(strings.TrimSpace(s))
	if e == "" || len(e) > MaxEmailBytes || !cleanText(e) {
		return "", bad
	}
	addr, err := mail.ParseAddress(e)
	if err != nil || addr.Address != e || addr.Name != "" {
		return "", bad
	}
	local, domain, _ := strings.Cut(e, "@")
	if local == "" || !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") ||
		strings.HasSuffix(domain, ".") || strings.ContainsAny(e, " <>\"") {
		return "", bad
	}
	return e, nil
}

type signinForm struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

func (a *API) signin(w http.ResponseWriter, r *http.Request) {
	var f signinForm
	if !readJSON(w, r, a.cfg.MaxAuthBodyBytes, &f) {
		return
	}
	email := strings.ToLower(strings.TrimSpace(f.Email))
	// Only an email that can name an account has per-account state: any
	// other would be kept as sent (up to the body limit) as a limiter key,
	// for an account that cannot exist.
	possible := email != "" && len(email) <= MaxEmailBytes && cleanText(email)
	addr, limited := a.clientAddr(r)
	addrKey, acctKey := "addr:"+addr, "acct:"+email
	now := a.cfg.Now()
	if tooMany(w, waitIf(a.limits.signin, addrKey, limited, now), waitIf(a.limits.signin, acctKey, possible, now)) {
		return
	}
	var u *storage.User
	var err error
	if possible {
		u, err = a.cfg.Store.GetUserByEmail(r.Context(), email)
	} else {
		err = storage.ErrNotFound
	}
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		a.internalError(w, r, "get user", err)
		return
	}
	// Every sign-in hashes exactly once, against the account's hash or the
	// dummy (unknown email, oversize password), so its time says nothing
	// about whether the email exists.
	hash, usable := a.dummyHash, u != nil && len(f.Password) <= MaxPasswordBytes
	if usable {
		hash = u.PasswordHash
	}
	var match bool
	if !a.hash(w, r, func() { match = auth.CheckPassword(hash, f.Password) }) {
		return
	}
	if !usable || !match {
		now = a.cfg.Now()
		if limited {
			a.limits.signin.Fail(addrKey, now)
		}
		if possible {
			a.limits.signin.Fail(acctKey, now)
		}
		writeError(w, http.StatusUnauthorized, msgBadCredentials)
		return
	}
	a.limits.signin.Reset(acctKey)
	a.respondSession(w, r, u)
}

func (a *API) respondSession(w http.ResponseWriter, r *http.Request, u *storage.User) {
	tok, c, err := a.cfg.Auth.IssueClaims(r.Context(), u)
	if err != nil {
		a.internalError(w, r, "issue token", err)
		return
	}
	a.setTokenCookie(w, r, tok, c)
	writeJSON(w, http.StatusOK, newSessionResponse(u, tok, c))
}

// me answers the signed-in account and (re)sets the cookie to its token,
// as Open WebUI does on every session restore.
func (a *API) me(w http.ResponseWriter, r *http.Request, s *session) {
	a.setTokenCookie(w, r, s.token, s.claims)
	writeJSON(w, http.StatusOK, newSessionResponse(s.user, s.token, s.claims))
}

// signout revokes this token and rotates the account's stamp (every other
// token of the account dies too, as in Open WebUI), then drops its sockets.
func (a *API) signout(w http.ResponseWriter, r *http.Request, s *session) {
	if err := a.cfg.Auth.SignOut(r.Context(), s.claims); err != nil {
		a.internalError(w, r, "sign out", err)
		return
	}
	a.revoked(r.Context(), s.user.ID)
	a.clearTokenCookie(w, r)
	writeJSON(w, http.StatusOK, map[string]bool{"status": true})
}

func (a *API) revoked(ctx context.Context, userID string) {
	a.log.InfoContext(ctx, "tokens revoked", "user", userID)
	if a.cfg.OnRevoke != nil {
		a.cfg.OnRevoke(userID)
	}
}
