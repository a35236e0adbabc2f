// Package quiretest runs a real Quire server for tests: listening on
// 127.0.0.1:0, SQLite in t.TempDir() (or a fresh PostgreSQL database),
// logging to t.Log, ready when New returns, stopped in t.Cleanup.
package quiretest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/auth"
	"github.com/quire/quire/server"
	"github.com/quire/quire/storage/storagetest"
)

// Server is a running test server.
type Server struct {
	*server.Server
	t      testing.TB
	URL    string // http://127.0.0.1:<port>
	Config server.Config
	Client *http.Client
}

type options struct {
	postgres bool
	cfg      server.Config
	edit     []func(*server.Config)
	level    slog.Level
}

// Option changes how New builds the server.
type Option func(*options)

// WithPostgres uses a fresh PostgreSQL database (storagetest.NewPostgres;
// the test is skipped when QUIRE_TEST_DATABASE_URL is unset).
func WithPostgres() Option { return func(o *options) { o.postgres = true } }

// WithDataDir reuses a data directory, e.g. to restart on the same data.
func WithDataDir(dir string) Option { return func(o *options) { o.cfg.DataDir = dir } }

// WithDatabaseURL uses this database instead of SQLite.
func WithDatabaseURL(url string) Option { return func(o *options) { o.cfg.DatabaseURL = url } }

// WithConfig edits the server configuration last.
func WithConfig(fn func(*server.Config)) Option {
	return func(o *options) { o.edit = append(o.edit, fn) }
}

// WithLogLevel sets the level of the logs sent to t.Log (default debug).
func WithLogLevel(l slog.Level) Option { return func(o *options) { o.level = l } }

// Backend is one storage backend to run a table-driven test on.
type Backend struct {
	Name string
	Opts []Option
}

// Backends lists SQLite, always, and PostgreSQL, whose subtests skip when
// QUIRE_TEST_DATABASE_URL is unset.
func Backends() []Backend {
	return []Backend{{Name: "sqlite"}, {Name: "postgres", Opts: []Option{WithPostgres()}}}
}

// New starts a server and stops it when the test ends.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	o := options{level: slog.LevelDebug}
	o.cfg = server.Config{
		Addr:           "127.0.0.1:0",
		Secret:         "quiretest-secret-0123456789abcdef",
		PasswordParams: auth.LowCostParams,
		// Test upstreams are in-process: the 5 s default is for remote ones,
		// and a loaded -race run outlasted it (the model was left out and a
		// completion got 404, in three tests). A test of it sets its own.
		ChatModelsTimeout: time.Minute,
	}
	for _, opt := range opts {
		opt(&o)
	}
	if o.cfg.DataDir == "" {
		o.cfg.DataDir = t.TempDir()
	}
	if o.postgres && o.cfg.DatabaseURL == "" {
		o.cfg.DatabaseURL = storagetest.NewPostgres(t)
	}
	for _, fn := range o.edit {
		fn(&o.cfg)
	}

	lw := &logWriter{t: t}
	logger := slog.New(slog.NewTextHandler(lw, &slog.HandlerOptions{Level: o.level}))
	srv, err := server.New(o.cfg, logger)
	require.NoError(t, err, "quiretest: build server")
	ctx := context.Background()
	require.NoError(t, srv.Start(ctx), "quiretest: start server")
	s := &Server{
		Server: srv, t: t, URL: "http://" + srv.Addr(), Config: o.cfg,
		Client: &http.Client{Timeout: clientTimeout},
	}
	t.Cleanup(func() {
		s.Stop()
		lw.close() // logs after the test would panic in t.Log
	})
	s.waitHealthy()
	return s
}

// clientTimeout bounds a test's request: it is there to end a hang, not
// to time the server. Two suites at once under -race on this 2-core
// machine made heavy requests (an 8 MB chat, a large note) take 30–35 s
// and a task's stop 31 s; a 30 s bound failed them.
const clientTimeout = 2 * time.Minute

// Stop stops the server now (Cleanup stops it too; twice is fine).
func (s *Server) Stop() {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := s.Server.Stop(ctx); err != nil {
		s.t.Errorf("quiretest: stop: %v", err)
	}
}

func (s *Server) waitHealthy() {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := s.Client.Get(s.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("quiretest: server not healthy: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Response is an HTTP answer read in full.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Decode unmarshals the body into v, failing the test if it cannot.
func (r Response) Decode(t testing.TB, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(r.Body, v), "decode %s", r.Body)
}

// Detail is the "detail" of an error body ("" if none).
func (r Response) Detail() string {
	var d struct {
		Detail string `json:"detail"`
	}
	_ = json.Unmarshal(r.Body, &d)
	return d.Detail
}

// Do sends a request. body may be nil, a string or []byte (sent as is), or
// anything else (sent as JSON). token "" sends no Authorization header.
func (s *Server) Do(method, path, token string, body any) Response {
	s.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		require.NoError(s.t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	require.NoError(s.t, err)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.Client.Do(req)
	require.NoError(s.t, err, "%s %s", method, path)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(s.t, err)
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: raw}
}

// JSON sends a request, requires status want and decodes the body into out
// (if not nil).
func (s *Server) JSON(method, path, token string, body any, want int, out any) Response {
	s.t.Helper()
	r := s.Do(method, path, token, body)
	require.Equal(s.t, want, r.Status, "%s %s: %s", method, path, r.Body)
	if out != nil {
		r.Decode(s.t, out)
	}
	return r
}

// User is a signed-up account with a token.
type User struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
	Role  string `json:"role"`
	Token string `json:"token"`
}

// Password is what SignUp uses for every account.
const Password = "correct horse battery"

var userSeq struct {
	sync.Mutex
	n int
}

// SignUp creates an account named name (the first on a server is admin)
// with a unique email and Password, and returns it with a token.
func (s *Server) SignUp(name string) User {
	s.t.Helper()
	userSeq.Lock()
	userSeq.n++
	n := userSeq.n
	userSeq.Unlock()
	email := fmt.Sprintf("%s-%d@example.com", strings.ToLower(strings.ReplaceAll(name, " ", "-")), n)
	var u User
	s.JSON(http.MethodPost, "/api/v1/auths/signup", "",
		map[string]string{"name": name, "email": email, "password": Password}, http.StatusOK, &u)
	return u
}

// SignIn returns a fresh token for an account made by SignUp.
func (s *Server) SignIn(email string) string {
	s.t.Helper()
	var u User
	s.JSON(http.MethodPost, "/api/v1/auths/signin", "",
		map[string]string{"email": email, "password": Password}, http.StatusOK, &u)
	return u.Token
}

// CreateNote creates a note owned by the token's account with Markdown
// content md, and returns its id (its document is "note:<id>").
func (s *Server) CreateNote(token, title, md string) string {
	s.t.Helper()
	var n struct {
		ID string `json:"id"`
	}
	s.JSON(http.MethodPost, "/api/v1/notes/create", token, map[string]any{
		"title": title, "data": map[string]any{"content": map[string]any{"md": md}},
	}, http.StatusOK, &n)
	return n.ID
}

// Share gives the account userID permission perm ("read" or "write") on
// the note, replacing its other grants; token must be the owner's or an
// admin's.
func (s *Server) Share(token, noteID, userID, perm string) {
	s.t.Helper()
	s.JSON(http.MethodPost, "/api/v1/notes/"+noteID+"/access/update", token, map[string]any{
		"access_grants": []map[string]string{{"principal_type": "user", "principal_id": userID, "permission": perm}},
	}, http.StatusOK, nil)
}

// logWriter sends log lines to t.Log until close.
type logWriter struct {
	mu     sync.Mutex
	t      testing.TB
	closed bool
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *logWriter) close() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
}
