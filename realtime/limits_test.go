package realtime_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/quire/quire/auth"
	"github.com/quire/quire/realtime"
	"github.com/quire/quire/storage"
)

// A flood of 1,000 awareness updates of 2 KB: with the clock still, exactly
// the burst (30) is relayed and acknowledged ok; the rest are refused with
// rate_limited, and after MaxRateStrikes refusals the socket is closed and
// counted. Before the limit, all 1,000 reached the room.
func TestAwarenessFloodIsLimited(t *testing.T) {
	t.Parallel()
	still := time.Unix(1_700_000_000, 0)
	b := setup(t, func(c *realtime.Config) { c.Now = func() time.Time { return still } })
	var r struct {
		Acks        map[string]int
		Reason      string
		Relayed     int
		First, Last int
	}
	node(t, &r, "flood.mjs", b.url, b.note.ID, b.tokens["writer"], b.tokens["reader"], "1000", "2048")
	if r.Relayed != realtime.AwarenessBurstDefault || r.First != 0 || r.Last != realtime.AwarenessBurstDefault-1 {
		t.Errorf("relayed %d (updates %d..%d), want the first %d", r.Relayed, r.First, r.Last, realtime.AwarenessBurstDefault)
	}
	// The acks of the last refusals race the close (the transport is cut
	// with them in its buffer), so the client's count of rate_limited acks
	// is not exact; the server's count, below, is.
	if r.Acks["ok"] != realtime.AwarenessBurstDefault || r.Acks["rate_limited"] < realtime.MaxRateStrikesDefault/2 {
		t.Errorf("acks %v, want %d ok and rate_limited acks for most refusals", r.Acks, realtime.AwarenessBurstDefault)
	}
	if r.Reason == "" {
		t.Errorf("flooding socket: disconnect reason %q", r.Reason)
	}
	if got := b.metric(t, "quire_realtime_closed_total", map[string]string{"reason": "rate_limited"}); got != 1 {
		t.Errorf("closed rate_limited = %v", got)
	}
	if got := b.metric(t, "quire_realtime_rejected_total", map[string]string{"reason": "rate_limited"}); got <= realtime.MaxRateStrikesDefault {
		t.Errorf("rejected rate_limited = %v", got)
	}
}

// A socket that has not authenticated by AuthTimeout is closed; sockets
// that authenticated in the handshake or by user-join stay.
func TestUnauthenticatedSocketIsClosed(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *realtime.Config) { c.AuthTimeout = 300 * time.Millisecond })
	var r struct {
		JoinOk bool
		Reason string
		H, J   map[string]any
	}
	node(t, &r, "authdeadline.mjs", b.url, b.tokens["writer"])
	okAck := map[string]any{"ok": true}
	if !r.JoinOk || r.Reason == "" || !equalJSON(r.H, okAck) || !equalJSON(r.J, okAck) {
		t.Errorf("user-join ok %v, unauthenticated socket closed: %q, handshake socket %v, user-join socket %v", r.JoinOk, r.Reason, r.H, r.J)
	}
	if got := b.metric(t, "quire_realtime_closed_total", map[string]string{"reason": "auth_timeout"}); got != 1 {
		t.Errorf("closed auth_timeout = %v", got)
	}
}

// A socket may have joined at most MaxDocuments documents at once.
func TestMaxDocumentsPerSocket(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *realtime.Config) { c.MaxDocuments = 2 })
	ids := []string{b.note.ID}
	for range 2 {
		n := &storage.Note{UserID: b.users["owner"].ID, Title: "t", Data: json.RawMessage(`{}`), Meta: json.RawMessage(`{}`)}
		if err := b.store.CreateNote(context.Background(), n); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, n.ID)
	}
	var r map[string]any
	node(t, &r, "maxdocs.mjs", b.url, b.tokens["owner"], ids[0], ids[1], ids[2])
	okAck := map[string]any{"ok": true}
	for k, want := range map[string]any{
		"first": okAck, "second": okAck, "again": okAck, "leave": okAck, "thirdAfterLeave": okAck,
		"third": map[string]any{"ok": false, "error": "too_many_documents"},
	} {
		if !equalJSON(r[k], want) {
			t.Errorf("%s = %v, want %v", k, r[k], want)
		}
	}
	if got := b.metric(t, "quire_realtime_rejected_total", map[string]string{"reason": "too_many_documents"}); got != 1 {
		t.Errorf("rejected too_many_documents = %v", got)
	}
}

// admitPending is the Verifier as it is once a pending account can sign in
// (issue 8 item 4, the REST side, changes auth.Verify): the real
// Authenticator, plus the pending account's token, answered with the
// account as stored. Sockets must refuse that account whatever Verify does.
type admitPending struct {
	realtime.Verifier
	store storage.Store
	token string
	id    string
}

func (v *admitPending) Verify(ctx context.Context, token string) (*storage.User, *auth.Claims, error) {
	if token == v.token {
		u, err := v.store.GetUser(ctx, v.id)
		return u, &auth.Claims{UserID: v.id}, err
	}
	return v.Verifier.Verify(ctx, token)
}

// An account waiting for approval gets account_pending on every socket
// event, with its token in the handshake or in user-join: it joins no
// note or channel room (join-channels), and types in none.
func TestPendingAccountRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u := &storage.User{Email: "pat@example.com", Name: "pat", Role: storage.RolePending, SessionStamp: auth.NewSessionStamp()}
	var tok string
	b := setup(t, func(c *realtime.Config) {
		if err := c.Store.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		var err error
		if tok, err = c.Auth.(*auth.Authenticator).Issue(ctx, u); err != nil {
			t.Fatal(err)
		}
		c.Auth = &admitPending{Verifier: c.Auth, store: c.Store, token: tok, id: u.ID}
	})
	// The pending account has a write grant: only its role stops it.
	b.note.AccessGrants = append(b.note.AccessGrants, storage.AccessGrant{PrincipalType: "user", PrincipalID: u.ID, Permission: storage.PermWrite})
	if err := b.store.SetNoteAccess(ctx, b.note.ID, b.note.AccessGrants); err != nil {
		t.Fatal(err)
	}
	// And is a member of a channel: it may neither join its room nor type in it.
	ch := b.privateGroup(t, "with pat", storage.ChannelMember{UserID: u.ID, Role: storage.MemberManager, IsActive: true})
	var r map[string]map[string]any
	node(t, &r, "pending.mjs", b.url, b.note.ID, tok, ch.ID)
	refused := map[string]any{"ok": false, "error": "account_pending"}
	for _, how := range []string{"handshake", "plain"} {
		for _, ev := range []string{"userJoin", "heartbeat", "joinNote", "join", "update", "awareness", "joinChannels", "typing", "lastRead"} {
			if !equalJSON(r[how][ev], refused) {
				t.Errorf("%s socket, %s: %v", how, ev, r[how][ev])
			}
		}
	}
	if online, _ := b.presence.Online(context.Background()); len(online) != 0 {
		n := len(online)
		t.Errorf("%d accounts in presence", n)
	}
}
