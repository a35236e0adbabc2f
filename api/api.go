package api

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/quire/quire/auth"
	"github.com/quire/quire/chat"
	"github.com/quire/quire/prosemirror"
	"github.com/quire/quire/storage"
)

// Body limits.
const (
	MaxNoteBodyBytesDefault = 8 << 20
	MaxAuthBodyBytesDefault = 64 << 10
)

// LiveDocuments turns a REST edit of a note's content into a CRDT update of
// its live document (implemented by ydoc.Manager).
type LiveDocuments interface {
	ReplaceContent(ctx context.Context, docID string, doc *prosemirror.Node) error
}

// documentForgetter is LiveDocuments' optional extra (ydoc.Manager has it):
// drop a deleted note's live document, so that nothing more is stored or
// rendered into it.
type documentForgetter interface {
	Forget(ctx context.Context, docID string) error
}

// Config configures the API.
type Config struct {
	Store  storage.Store       // required
	Auth   *auth.Authenticator // required
	Logger *slog.Logger        // nil: discard
	// MaxNoteBodyBytes caps note request bodies. Zero: MaxNoteBodyBytesDefault.
	MaxNoteBodyBytes int64
	// MaxAuthBodyBytes caps every other request body. Zero: MaxAuthBodyBytesDefault.
	MaxAuthBodyBytes int64
	// MaxChatBytes caps a saved chat's conversation object (chats.go);
	// its request bodies may be 64 KiB more. Zero: MaxChatBytesDefault.
	MaxChatBytes int64
	// Live, if set, receives content edits made over REST.
	Live LiveDocuments
	// NoteEvents, if set, is called after a note is updated (the server
	// emits events:note with it).
	NoteEvents func(n *storage.Note)
	// NoteDeleted, if set, is called after a note was deleted (the server
	// removes every socket from its rooms).
	NoteDeleted func(noteID string)
	// Presence, if set, answers who is online and which models are in use
	// (the server passes its presence.Manager); nil: nobody, nothing.
	Presence Presence
	// OnRevoke, if set, is called after an account's tokens were revoked
	// (sign-out, role change), to disconnect its live sockets.
	OnRevoke func(userID string)
	// Channels tells the realtime server about channel changes (channels.go).
	Channels ChannelEvents
	// Now is the clock for timestamps. Nil: time.Now.
	Now func() time.Time
	// Limits bound sign-in and sign-up abuse.
	Limits AuthLimits
	// SignupDisabled refuses every sign-up but the first account's.
	SignupDisabled bool
	// DefaultUserRole is the role of every account but the first (always
	// admin): storage.RolePending, RoleUser or RoleAdmin. Empty: RoleUser.
	DefaultUserRole string
	// Chat, if set, lists the upstreams' models and sends completions
	// (chat.go); nil: no models.
	Chat *chat.Client
	// Tasks runs task-mode completions (chat_task.go); nil: a registry of
	// the API's own, never shut down (tests).
	Tasks chat.Tasks
	// Events pushes socket events (the realtime server); nil: no socket
	// hears anything, and no session_id is anyone's.
	Events Events
	// ChatFlushInterval and ChatFlushBytes batch a task's text deltas: the
	// first goes out at once, then at most one event per interval, or
	// sooner once that many bytes wait. Zero: ChatFlushIntervalDefault,
	// ChatFlushBytesDefault.
	ChatFlushInterval time.Duration
	ChatFlushBytes    int
	// ChannelAnswerInterval spaces the updates of a model's answer into a
	// channel (channel_answers.go). Zero: ChannelAnswerIntervalDefault.
	ChannelAnswerInterval time.Duration
	// SecureCookie marks the token cookie Secure on every answer (the
	// server's --public-url is https). False: only over TLS or when
	// X-Forwarded-Proto says https.
	SecureCookie bool
	// Name and Version are the server's, as GET /api/config and
	// /api/version tell the frontend. Empty: "Quire", "dev".
	Name, Version string
}

// Events is what the API asks of the socket server (realtime.Server has
// it): push an event to an account's sockets or a channel's room, and
// whether a socket is an account's.
type Events interface {
	EmitToUser(userID, event string, payload []byte) error
	EmitToChannel(channelID, event string, payload []byte) error
	OwnsSession(ctx context.Context, userID, sid string) (bool, error)
}

// API holds the handlers.
type API struct {
	cfg Config
	log *slog.Logger
	// dummyHash is checked when an email is unknown, so that sign-in takes
	// as long as for a wrong password.
	dummyHash string
	limits    *limits
	answers   answerSet // running channel answers (channel_answers.go)
}

// New checks cfg and returns the API.
func New(cfg Config) (*API, error) {
	if cfg.Store == nil || cfg.Auth == nil {
		return nil, errors.New("api: Config.Store and Config.Auth are required")
	}
	cfg.MaxNoteBodyBytes = cmp.Or(cfg.MaxNoteBodyBytes, MaxNoteBodyBytesDefault)
	cfg.MaxAuthBodyBytes = cmp.Or(cfg.MaxAuthBodyBytes, MaxAuthBodyBytesDefault)
	cfg.MaxChatBytes = cmp.Or(cfg.MaxChatBytes, MaxChatBytesDefault)
	cfg.ChatFlushInterval = cmp.Or(cfg.ChatFlushInterval, ChatFlushIntervalDefault)
	cfg.ChatFlushBytes = cmp.Or(cfg.ChatFlushBytes, ChatFlushBytesDefault)
	cfg.ChannelAnswerInterval = cmp.Or(cfg.ChannelAnswerInterval, ChannelAnswerIntervalDefault)
	if cfg.MaxNoteBodyBytes < 0 || cfg.MaxAuthBodyBytes < 0 || cfg.MaxChatBytes < 0 || cfg.ChatFlushInterval < 0 || cfg.ChatFlushBytes < 0 || cfg.ChannelAnswerInterval < 0 {
		return nil, errors.New("api: body limits and chat flush settings must not be negative")
	}
	if cfg.Tasks == nil {
		cfg.Tasks = chat.NewTasksMemory()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.Name = cmp.Or(cfg.Name, "Quire")
	cfg.Version = cmp.Or(cfg.Version, "dev")
	switch cfg.DefaultUserRole {
	case "", storage.RolePending, storage.RoleUser, storage.RoleAdmin:
	default:
		return nil, fmt.Errorf("api: DefaultUserRole %q: want pending, user or admin", cfg.DefaultUserRole)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dummy, err := cfg.Auth.HashPassword("quire-dummy-password")
	if err != nil {
		return nil, err
	}
	lim, err := newLimits(cfg.Limits)
	if err != nil {
		return nil, err
	}
	return &API{cfg: cfg, log: log.With("component", "api"), dummyHash: dummy, limits: lim}, nil
}

// Register adds every route to mux.
func (a *API) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/v1/auths/signup", a.signup)
	mux.HandleFunc("POST /api/v1/auths/signin", a.signin)
	mux.HandleFunc("GET /api/v1/auths/{$}", a.authedPending(a.me))
	// Signing out changes state even as a GET: a cookie alone (a link on
	// another site) must not do it.
	mux.HandleFunc("GET /api/v1/auths/signout", a.authedAs(true, true, a.signout))
	mux.HandleFunc("POST /api/v1/auths/signout", a.authedPending(a.signout))

	mux.HandleFunc("GET /api/v1/users/{$}", a.authed(a.listUsers))
	mux.HandleFunc("GET /api/v1/users/search", a.authed(a.searchUsers))
	mux.HandleFunc("GET /api/v1/users/active", a.authed(a.activeUsers))
	mux.HandleFunc("GET /api/usage", a.authed(a.usage))
	mux.HandleFunc("POST /api/v1/users/{id}/update/role", a.authed(a.updateRole))

	mux.HandleFunc("POST /api/v1/notes/create", a.authed(a.createNote))
	mux.HandleFunc("GET /api/v1/notes/{$}", a.authed(a.listNotes))
	// More specific than /{id}: never read as note ids.
	mux.HandleFunc("GET /api/v1/notes/search", a.authed(a.searchNotes))
	mux.HandleFunc("GET /api/v1/notes/pinned", a.authed(a.pinnedNotes))
	mux.HandleFunc("GET /api/v1/notes/{id}", a.authed(a.getNote))
	mux.HandleFunc("POST /api/v1/notes/{id}/update", a.authed(a.updateNote))
	mux.HandleFunc("DELETE /api/v1/notes/{id}/delete", a.authed(a.deleteNote))
	mux.HandleFunc("POST /api/v1/notes/{id}/access/update", a.authed(a.updateAccess))

	a.registerWebUI(mux)
	a.registerChannels(mux)
	a.registerChat(mux)
	a.registerChats(mux)
	a.registerChatActions(mux)
	a.registerChatImport(mux)
	a.registerTasks(mux)
	mux.HandleFunc("POST /api/v1/events/emit", a.authed(a.emitEvent))

	// Anything else under /api/ is a JSON 404, never the browser app.
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "Not Found")
	})
}
