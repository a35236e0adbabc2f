package realtime_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/quire/quire/auth"
	"github.com/quire/quire/awareness"
	"github.com/quire/quire/internal/nodetest"
	"github.com/quire/quire/presence"
	"github.com/quire/quire/realtime"
	"github.com/quire/quire/storage"
	"github.com/quire/quire/ydoc"
)

// testBundle is a running realtime server with its real dependencies and a
// few accounts and one note:
// owner owns the note, reader has a read grant, writer a write grant,
// stranger nothing.
type testBundle struct {
	srv      *realtime.Server
	url      string
	store    storage.Store
	auth     *auth.Authenticator
	docs     *ydoc.Manager
	aw       *awareness.Registry
	reg      *prometheus.Registry
	presence *presence.Memory
	note     *storage.Note
	tokens   map[string]string // "owner", "reader", "writer", "stranger"
	users    map[string]*storage.User
	logs     *logLines // every line logged at Warn and above
}

func setup(t testing.TB, opts ...func(*realtime.Config)) *testBundle {
	t.Helper()
	ctx := context.Background()
	logs := &logLines{}
	log := slog.New(slog.NewTextHandler(testWriter{t, logs}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	store, err := storage.OpenSQLite(ctx, filepath.Join(t.TempDir(), "quire.db"), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	a, err := auth.NewAuthenticator(auth.Config{Store: store, Secret: bytes.Repeat([]byte("k"), 32), Password: auth.LowCostParams})
	if err != nil {
		t.Fatal(err)
	}
	b := &testBundle{store: store, auth: a, aw: awareness.NewRegistry(), reg: prometheus.NewRegistry(),
		tokens: map[string]string{}, users: map[string]*storage.User{}, logs: logs}
	for _, name := range []string{"owner", "reader", "writer", "stranger"} {
		u := &storage.User{Email: name + "@example.com", Name: name, Role: storage.RoleUser, SessionStamp: auth.NewSessionStamp()}
		if err := store.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		tok, err := a.Issue(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		b.users[name], b.tokens[name] = u, tok
	}
	b.note = &storage.Note{UserID: b.users["owner"].ID, Title: "t", Data: json.RawMessage(`{}`), Meta: json.RawMessage(`{}`),
		AccessGrants: []storage.AccessGrant{
			{PrincipalType: "user", PrincipalID: b.users["reader"].ID, Permission: storage.PermRead},
			{PrincipalType: "user", PrincipalID: b.users["writer"].ID, Permission: storage.PermWrite},
		}}
	if err := store.CreateNote(ctx, b.note); err != nil {
		t.Fatal(err)
	}
	var rt *realtime.Server
	b.docs, err = ydoc.NewManager(ydoc.Config{Store: store, Logger: log, Registry: b.reg,
		Broadcast: func(docID string, update []byte, exceptSID string) { rt.Broadcast(docID, update, exceptSID) }})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.docs.Start(ctx); err != nil {
		t.Fatal(err)
	}
	b.presence = presence.NewMemory()
	cfg := realtime.Config{Auth: a, Store: store, Docs: b.docs, Awareness: b.aw, Presence: b.presence, Logger: log, Registry: b.reg}
	for _, o := range opts {
		o(&cfg)
	}
	b.srv, err = realtime.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rt = b.srv
	mux := http.NewServeMux()
	mux.Handle("/ws/socket.io/", b.srv.Handler())
	hs := httptest.NewServer(mux)
	if err := b.srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := b.srv.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
		if err := b.docs.Stop(ctx); err != nil {
			t.Errorf("stop documents: %v", err)
		}
		hs.Close()
	})
	b.url = hs.URL
	return b
}

// node runs a test script with the real socket.io-client and decodes the
// JSON object it prints into out.
func node(t testing.TB, out any, script string, args ...string) {
	t.Helper()
	nodetest.Run(t, out, filepath.Join("testdata", script), args...)
}

// idleClients starts testdata/idle.mjs with n idle sockets of token's
// account, connected once it returns; they close when the test ends.
func idleClients(t testing.TB, url, token string, n int) {
	t.Helper()
	s := nodetest.Start(t, filepath.Join("testdata", "idle.mjs"), url, token, strconv.Itoa(n))
	var ready struct{ Ready int }
	if s.Next(&ready); ready.Ready != n {
		t.Fatalf("idle clients: %d of %d ready", ready.Ready, n)
	}
}

// privateGroup stores a private group channel called name with members;
// the first owns it.
func (b *testBundle) privateGroup(t testing.TB, name string, members ...storage.ChannelMember) *storage.Channel {
	t.Helper()
	ch := &storage.Channel{UserID: members[0].UserID, Type: storage.ChannelGroup, Name: name, IsPrivate: true}
	if err := b.store.CreateChannel(context.Background(), ch, members); err != nil {
		t.Fatal(err)
	}
	return ch
}

// counter reads a counter or gauge value from the bundle's registry.
func (b *testBundle) metric(t testing.TB, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := b.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue next
				}
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
		time.Sleep(10 * time.Millisecond)
	}
}

// testWriter logs to the test, and keeps the lines in lines unless nil.
type testWriter struct {
	t     testing.TB
	lines *logLines
}

func (w testWriter) Write(p []byte) (int, error) {
	line := string(bytes.TrimRight(p, "\n"))
	w.t.Log(line)
	if w.lines != nil {
		w.lines.mu.Lock()
		w.lines.l = append(w.lines.l, line)
		w.lines.mu.Unlock()
	}
	return len(p), nil
}

type logLines struct {
	mu sync.Mutex
	l  []string
}

// containing returns the lines that contain s.
func (ll *logLines) containing(s string) []string {
	ll.mu.Lock()
	defer ll.mu.Unlock()
	var out []string
	for _, l := range ll.l {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return out
}
