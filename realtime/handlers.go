package realtime

import (
	"context"
	"errors"
	"time"

	"github.com/quire/quire/auth"
	"github.com/quire/quire/awareness"
	"github.com/quire/quire/storage"
)

// Event names (shared/protocol.md §2).
const (
	evUserJoin       = "user-join"
	evHeartbeat      = "heartbeat"
	evJoinNote       = "join-note"
	evDocJoin        = "ydoc:document:join"
	evDocState       = "ydoc:document:state"
	evDocUpdate      = "ydoc:document:update"
	evDocLeave       = "ydoc:document:leave"
	evAwareness      = "ydoc:awareness:update"
	evUserJoined     = "ydoc:user:joined"
	evUserLeft       = "ydoc:user:left"
	otherEventsLabel = "other"
)

var handlers map[string]handler

func init() {
	handlers = map[string]handler{
		evUserJoin:      (*conn).onUserJoin,
		evHeartbeat:     (*conn).onHeartbeat,
		evJoinNote:      (*conn).onJoinNote,
		evDocJoin:       (*conn).onDocJoin,
		evDocState:      (*conn).onDocState,
		evDocUpdate:     (*conn).onDocUpdate,
		evDocLeave:      (*conn).onDocLeave,
		evAwareness:     (*conn).onAwareness,
		evUsage:         (*conn).onUsage,
		evPresenceWatch: (*conn).onPresenceWatch,

		evJoinChannels: (*conn).onJoinChannels, // channels.go
		evChannel:      (*conn).onChannelEvent,

		evChat: (*conn).onChatEvent, // chats.go
	}
}

// eventLabel keeps metric labels to the known event names.
func eventLabel(name string) string {
	if _, ok := handlers[name]; ok {
		return name
	}
	return otherEventsLabel
}

// onUserJoin: {auth:{token}} → the socket becomes that account's; ack
// {id, name, role}.
func (c *conn) onUserJoin(ctx context.Context, payload any) reply {
	f, ok := asFields(payload)
	if !ok {
		return fail(reasonInvalidPayload)
	}
	u, token, err := c.verifyToken(ctx, f["auth"])
	if err == nil && !approved(u) {
		c.unapproved.Store(true)
		return fail(reasonPending)
	}
	if err == nil {
		err = c.adopt(ctx, token, u)
	}
	if err != nil {
		return tokenRefused(err)
	}
	return okWith(map[string]any{"id": u.ID, "name": u.Name, "role": u.Role})
}

// payloadAccount is the account an event acts for: the socket's, after
// checking f.auth.token when there is one (upstream checks the payload's
// token). A token of another account is refused: it would put this socket
// in that account's rooms, where neither its sign-out nor its removal
// from a channel or note reaches (they look for that account's sockets).
// user-join is the event that moves a socket to another account. checked:
// f had an auth, and u is the account its token was checked as.
func (c *conn) payloadAccount(ctx context.Context, f fields) (u *storage.User, checked bool, r reply) {
	u = c.user.Load()
	a, has := f["auth"]
	if !has {
		return u, false, ok()
	}
	tu, _, err := c.verifyToken(ctx, a)
	switch {
	case err != nil:
		return nil, true, tokenRefused(err)
	case tu.ID != u.ID:
		return nil, true, fail(reasonForbidden)
	}
	return tu, true, ok()
}

// verifyToken checks a payload's auth, {token}: auth.ErrUnauthenticated
// when there is no token or it is refused, another error when it could not
// be checked.
func (c *conn) verifyToken(ctx context.Context, payloadAuth any) (*storage.User, string, error) {
	a, ok := asFields(payloadAuth)
	if !ok {
		return nil, "", auth.ErrUnauthenticated
	}
	token, ok := a.str("token")
	if !ok || token == "" {
		return nil, "", auth.ErrUnauthenticated
	}
	u, _, err := c.srv.cfg.Auth.Verify(ctx, token)
	return u, token, err
}

// tokenRefused answers a failed token check: "unauthenticated" for a token
// refused, "unavailable" (try again) for one that could not be checked.
func tokenRefused(err error) reply {
	if errors.Is(err, auth.ErrUnauthenticated) {
		return fail(reasonUnauthenticated)
	}
	return failErr(reasonUnavailable, err)
}

// onHeartbeat: {} → the socket stays in presence; the account's
// last_active_at is written at most once per touchEvery.
func (c *conn) onHeartbeat(ctx context.Context, _ any) reply {
	u, now := c.user.Load(), time.Now()
	if err := c.srv.cfg.Presence.Touch(ctx, u.ID, c.sid); err != nil {
		c.logErr("presence heartbeat failed", err)
		return fail(reasonUnavailable)
	}
	if !c.srv.touch.allow(u.ID, now) {
		return ok()
	}
	if err := c.srv.cfg.Store.TouchUser(ctx, u.ID, now.Unix()); err != nil {
		c.logErr("touch user failed", err)
		return fail(reasonUnavailable)
	}
	return ok()
}

// onJoinNote: {note_id, auth?} → room note:<id> with read access.
func (c *conn) onJoinNote(ctx context.Context, payload any) reply {
	f, isObj := asFields(payload)
	noteID, isStr := f.str("note_id")
	if !isObj || !isStr || !validID(noteID) {
		return fail(reasonInvalidPayload)
	}
	u, checked, r := c.payloadAccount(ctx, f)
	if r.reason != "" {
		return r
	}
	if checked && !approved(u) {
		return fail(reasonPending)
	}
	if r := c.checkNote(ctx, u, noteID, storage.PermRead); r.reason != "" {
		return r
	}
	c.join(noteRoom(noteID))
	return ok()
}

// checkNote: the note exists and u has perm on it.
func (c *conn) checkNote(ctx context.Context, u *storage.User, noteID, perm string) reply {
	n, err := c.srv.noteAccess(ctx, noteID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return fail(reasonUnknownDocument)
	case err != nil:
		c.logErr("note lookup failed", err, "note", noteID)
		return fail(reasonUnavailable)
	case !auth.CanAccessNote(u, n, perm):
		return fail(reasonForbidden)
	}
	return ok()
}

// onDocJoin: read access → state to the sender, then everyone's awareness,
// then ydoc:user:joined to the others. The permission read here is kept
// for the document's later events (access.go).
func (c *conn) onDocJoin(ctx context.Context, payload any) reply {
	f, isObj := asFields(payload)
	if !isObj {
		return fail(reasonInvalidPayload)
	}
	docID, noteID, valid := f.documentID()
	if !valid {
		return fail(reasonUnknownDocument)
	}
	if !c.docs.has(docID) && c.docs.len() >= c.srv.cfg.MaxDocuments {
		return fail(reasonTooManyDocuments)
	}
	u := c.user.Load()
	access, r := c.loadAccess(ctx, u, noteID)
	if r.reason == "" {
		r = access.allows(permRead)
	}
	if r.reason != "" {
		return r
	}
	// In the room before the state is taken: an update relayed meanwhile
	// reaches this socket (clients apply updates in any order) instead of
	// falling between the state and the join. With several instances the
	// room's subscription is then in place before the document loads.
	room := docRoom(docID)
	rejoin := c.docs.has(docID)
	c.join(room)
	st, err := c.srv.cfg.Docs.Join(ctx, docID, c.sid)
	if err != nil {
		if !rejoin {
			c.leave(room)
		}
		return fail(c.docReason(err, docID))
	}
	c.docs.set(docID, access)
	c.sendState(docID, st)
	if states := c.srv.cfg.Awareness.States(docID, c.sid); states != nil {
		c.emit(evAwareness, newObject(len(states)*4).
			str("document_id", docID).str("user_id", "").ints("update", states).done())
	}
	// The name is the account's stored one, never the one the client claims.
	color, _ := f.str("user_color")
	c.srv.toRoom(room, c.sid, evUserJoined, newObject(0).
		str("document_id", docID).
		str("user_id", u.ID).
		str("user_name", cmpOr(u.Name, "Anonymous")).
		str("user_color", cmpOr(color, "#000000")).done())
	return ok()
}

func cmpOr(vs ...string) string {
	for _, v := range vs {
		if v != "" && len(v) <= maxNameLen {
			return v
		}
	}
	return ""
}

func (c *conn) emit(event string, payload any) {
	if err := c.sock.emit(event, payload, nil); err != nil {
		c.logErr("emit failed", err, "event", event)
	}
}

// joined returns the payload's document if this socket joined it.
func (c *conn) joined(payload any) (f fields, docID, noteID string, r reply) {
	f, isObj := asFields(payload)
	if !isObj {
		return nil, "", "", fail(reasonInvalidPayload)
	}
	docID, noteID, valid := f.documentID()
	if !valid {
		return nil, "", "", fail(reasonUnknownDocument)
	}
	if !c.docs.has(docID) {
		if _, gone := c.deleted[docID]; gone {
			return nil, "", "", fail(reasonUnknownDocument)
		}
		return nil, "", "", fail(reasonNotJoined)
	}
	return f, docID, noteID, ok()
}

func (c *conn) onDocState(ctx context.Context, payload any) reply {
	_, docID, noteID, r := c.joined(payload)
	if r.reason == "" {
		r = c.checkJoined(ctx, docID, noteID, permRead)
	}
	if r.reason != "" {
		return r
	}
	st, err := c.srv.cfg.Docs.State(ctx, docID)
	if err != nil {
		return fail(c.docReason(err, docID))
	}
	c.sendState(docID, st)
	return ok()
}

// onDocUpdate: write access, then the update is stored, applied and relayed
// by the manager (through Broadcast) before the ack. A content-only update
// is accepted and ignored: the server renders content from the CRDT.
func (c *conn) onDocUpdate(ctx context.Context, payload any) reply {
	f, docID, noteID, r := c.joined(payload)
	if r.reason != "" {
		return r
	}
	update, present, valid := f.bytesField("update")
	if !valid {
		return fail(reasonInvalidUpdate)
	}
	if !present {
		if _, hasData := asFields(f["data"]); hasData {
			return ok()
		}
		return fail(reasonInvalidPayload)
	}
	if r := c.checkJoined(ctx, docID, noteID, permWrite); r.reason != "" {
		return r
	}
	if err := c.srv.cfg.Docs.Apply(ctx, docID, c.sid, update); err != nil {
		return failErr(c.docReason(err, docID), err)
	}
	return ok()
}

func (c *conn) onDocLeave(ctx context.Context, payload any) reply {
	_, docID, _, r := c.joined(payload)
	if r.reason != "" {
		return r
	}
	c.leaveDoc(ctx, docID)
	return ok()
}

// leaveDoc: room, manager, awareness removal and ydoc:user:left to the room.
func (c *conn) leaveDoc(ctx context.Context, docID string) {
	c.docs.del(docID)
	delete(c.awRate, docID)
	room := docRoom(docID)
	c.leave(room)
	c.srv.cfg.Docs.Leave(ctx, docID, c.sid)
	userID := ""
	if u := c.user.Load(); u != nil {
		userID = u.ID
	}
	if gone := c.srv.cfg.Awareness.Remove(docID, c.sid); gone != nil {
		c.srv.toRoom(room, c.sid, evAwareness, newObject(len(gone)*4).
			str("document_id", docID).str("user_id", userID).ints("update", gone).done())
	}
	c.srv.toRoom(room, c.sid, evUserLeft, newObject(0).
		str("document_id", docID).str("user_id", userID).done())
}

// onAwareness: validated by the registry, remembered, and what it applied
// relayed to the others (removals as {}). A client id another account owns
// refuses the whole update.
func (c *conn) onAwareness(ctx context.Context, payload any) reply {
	f, docID, noteID, r := c.joined(payload)
	if r.reason != "" {
		return r
	}
	update, present, valid := f.bytesField("update")
	if !present || !valid {
		return fail(reasonInvalidAwareness)
	}
	if r := c.checkJoined(ctx, docID, noteID, permRead); r.reason != "" {
		return r
	}
	if !c.allowAwareness(docID) {
		return fail(reasonRateLimited)
	}
	userID := c.user.Load().ID
	applied, err := c.srv.cfg.Awareness.Apply(docID, c.sid, userID, update)
	switch {
	case errors.Is(err, awareness.ErrInvalid), errors.Is(err, awareness.ErrTooManyClients):
		return fail(reasonInvalidAwareness)
	case errors.Is(err, awareness.ErrForeignClient):
		return fail(reasonForbidden)
	case err != nil:
		c.logErr("awareness apply failed", err, "doc", docID)
		return fail(reasonInternal)
	}
	if applied != nil {
		c.srv.toRoom(docRoom(docID), c.sid, evAwareness, newObject(len(applied)*4).
			str("document_id", docID).str("user_id", userID).ints("update", applied).done())
	}
	return ok()
}
