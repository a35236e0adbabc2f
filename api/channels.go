package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"unicode/utf8"

	"github.com/quire/quire/auth"
	"github.com/quire/quire/storage"
	"github.com/quire/quire/wire"
)

// Channel limits.
const (
	// MaxMessageContentBytes caps a message's content; more is 413.
	MaxMessageContentBytes = 64 << 10
	// maxChannelBodyBytes caps a channel request body: the content plus
	// data, meta and the JSON escaping of the content.
	maxChannelBodyBytes = 512 << 10
	MaxChannelNameRunes = 128
	MaxDescriptionRunes = 4096
	MaxReactionRunes    = 100
	MaxMembersPerCall   = 1000
	// MaxReactionNames caps the different reactions on one message: every
	// page of messages carries them all, and one account could otherwise
	// add any number (Discord allows 20).
	MaxReactionNames = 100
	// messagePageDefault is GET …/messages' limit when none is given:
	// the frontend's page, which it asks for by skip and limit and takes
	// as the last when it is shorter.
	messagePageDefault = 50
	// maxMessagePage caps the limit of a page of messages or replies: a
	// message holds up to 64 KB of content and more of data and meta, so
	// the 1,000 a page could hold were a response of 64 MB and more to
	// load, encode and buffer. 200 is the largest page a client asks for
	// (Quire's app reads a thread's newest 200 replies at once). A byte
	// budget ending a page early would read as the channel's top to Open
	// WebUI's frontend, which takes a page shorter than its 50 as the last.
	maxMessagePage = 200
)

// ChannelEvents is what the realtime server does for the channel routes;
// every func may be nil (no sockets to tell).
type ChannelEvents struct {
	// Emit sends an encoded events:channel payload to channel:<id>.
	Emit func(channelID string, payload []byte, userID string)
	// Joined puts the accounts' live sockets into channel:<id> and tells
	// them channel:created.
	Joined func(channelID string, userIDs []string)
	// Left takes the accounts' sockets (nil: all) out of channel:<id>.
	Left func(channelID string, userIDs []string)
	// Keep takes every socket but the accounts' out of channel:<id>.
	Keep func(channelID string, userIDs []string)
}

func (a *API) registerChannels(mux *http.ServeMux) {
	const p = "/api/v1/channels/"
	mux.HandleFunc("POST "+p+"create", a.authed(a.createChannel))
	mux.HandleFunc("GET "+p+"{$}", a.authed(a.listChannels))
	mux.HandleFunc("GET "+p+"{id}", a.authed(a.channelRoute(false, a.getChannel)))
	mux.HandleFunc("POST "+p+"{id}/update", a.authed(a.channelRoute(true, a.updateChannel)))
	mux.HandleFunc("DELETE "+p+"{id}/delete", a.authed(a.channelRoute(true, a.deleteChannel)))
	mux.HandleFunc("POST "+p+"{id}/members/add", a.authed(a.channelRoute(true, a.addMembers)))
	mux.HandleFunc("POST "+p+"{id}/members/remove", a.authed(a.channelRoute(true, a.removeMembers)))
	mux.HandleFunc("GET "+p+"{id}/messages", a.authed(a.channelRoute(false, a.listMessages)))
	mux.HandleFunc("POST "+p+"{id}/messages/post", a.authed(a.channelRoute(false, a.postMessage)))
	mux.HandleFunc("GET "+p+"{id}/messages/{mid}/thread", a.authed(a.messageRoute(a.listThread)))
	mux.HandleFunc("POST "+p+"{id}/messages/{mid}/update", a.authed(a.messageRoute(a.updateMessage)))
	mux.HandleFunc("DELETE "+p+"{id}/messages/{mid}/delete", a.authed(a.messageRoute(a.deleteMessage)))
	mux.HandleFunc("POST "+p+"{id}/messages/{mid}/reactions/add", a.authed(a.messageRoute(a.reactionAdd)))
	mux.HandleFunc("POST "+p+"{id}/messages/{mid}/reactions/remove", a.authed(a.messageRoute(a.reactionRemove)))
	mux.HandleFunc("POST "+p+"{id}/messages/{mid}/pin", a.authed(a.messageRoute(a.pinMessage)))
}

// chanReq is a request on one channel the caller may read.
type chanReq struct {
	s      *session
	ch     *storage.Channel
	member *storage.ChannelMember // nil: not a member
}

func (c *chanReq) manage() bool { return auth.CanManageChannel(c.s.user, c.ch, c.member) }

// channelRoute loads {id}: 404 if absent, 403 if the caller may not read it
// (or, with manage, not manage it).
func (a *API) channelRoute(manage bool, h func(http.ResponseWriter, *http.Request, *chanReq)) func(http.ResponseWriter, *http.Request, *session) {
	return func(w http.ResponseWriter, r *http.Request, s *session) {
		id, ok := pathID(w, r, "id")
		if !ok {
			return
		}
		ch, err := a.cfg.Store.GetChannel(r.Context(), id)
		if errors.Is(err, storage.ErrNotFound) {
			writeError(w, http.StatusNotFound, msgNotFound)
			return
		} else if err != nil {
			a.internalError(w, r, "get channel", err)
			return
		}
		m, err := a.cfg.Store.GetChannelMember(r.Context(), id, s.user.ID)
		if errors.Is(err, storage.ErrNotFound) {
			m = nil
		} else if err != nil {
			a.internalError(w, r, "get channel member", err)
			return
		}
		c := &chanReq{s: s, ch: ch, member: m}
		if !auth.CanReadChannel(s.user, ch, m) || (manage && !c.manage()) {
			writeError(w, http.StatusForbidden, msgForbidden)
			return
		}
		h(w, r, c)
	}
}

// messageRoute also loads {mid}, which must be in the channel (else 404).
func (a *API) messageRoute(h func(http.ResponseWriter, *http.Request, *chanReq, *storage.Message)) func(http.ResponseWriter, *http.Request, *session) {
	return a.channelRoute(false, func(w http.ResponseWriter, r *http.Request, c *chanReq) {
		mid, ok := pathID(w, r, "mid")
		if !ok {
			return
		}
		m, err := a.cfg.Store.GetMessage(r.Context(), mid)
		if errors.Is(err, storage.ErrNotFound) || (err == nil && m.ChannelID != c.ch.ID) {
			writeError(w, http.StatusNotFound, msgNotFound)
			return
		} else if err != nil {
			a.internalError(w, r, "get message", err)
			return
		}
		h(w, r, c, m)
	})
}

// channelModel is a channel as the routes answer it.
type channelModel struct {
	wire.Channel
	UserIDs       []string `json:"user_ids,omitempty"`
	UnreadCount   *int     `json:"unread_count,omitempty"`
	LastMessageAt *int64   `json:"last_message_at,omitempty"`
	WriteAccess   bool     `json:"write_access"`
}

type channelForm struct {
	Name        *string   `json:"name"`
	Description *string   `json:"description"`
	Type        *string   `json:"type"`
	IsPrivate   *bool     `json:"is_private"`
	UserIDs     *[]string `json:"user_ids"`
	Data        object    `json:"data"`
	Meta        object    `json:"meta"`
}

// check validates the fields present; create requires a name except for DMs.
func (f *channelForm) check(create bool) error {
	if f.Name != nil {
		if !cleanText(*f.Name) || utf8.RuneCountInString(*f.Name) > MaxChannelNameRunes {
			return fmt.Errorf("name must be text of at most %d characters", MaxChannelNameRunes)
		}
	}
	if create && (f.Type == nil || *f.Type != storage.ChannelDM) && (f.Name == nil || *f.Name == "") {
		return errors.New("name is required")
	}
	if f.Description != nil && (!cleanText(*f.Description) || utf8.RuneCountInString(*f.Description) > MaxDescriptionRunes) {
		return fmt.Errorf("description must be text of at most %d characters", MaxDescriptionRunes)
	}
	if f.Type != nil && *f.Type != storage.ChannelStandard && *f.Type != storage.ChannelGroup && *f.Type != storage.ChannelDM {
		return errors.New(`type must be null, "group" or "dm"`)
	}
	if f.UserIDs != nil {
		if err := checkUserIDs(*f.UserIDs); err != nil {
			return err
		}
	}
	if !cleanValue(map[string]any(f.Data)) || !cleanValue(map[string]any(f.Meta)) {
		return errors.New(msgBadValue)
	}
	return nil
}

func checkUserIDs(ids []string) error {
	if len(ids) > MaxMembersPerCall {
		return fmt.Errorf("at most %d user_ids", MaxMembersPerCall)
	}
	for _, id := range ids {
		if !validID(id) {
			return errors.New("user_ids must be account ids")
		}
	}
	return nil
}

// readForm decodes a body of at most maxChannelBodyBytes into the form v
// as readJSON reads every form; false: answered.
func (a *API) readForm(w http.ResponseWriter, r *http.Request, v any) bool {
	return readJSON(w, r, maxChannelBodyBytes, v)
}

func (a *API) createChannel(w http.ResponseWriter, r *http.Request, s *session) {
	var f channelForm
	if !a.readForm(w, r, &f) {
		return
	}
	if err := f.check(true); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	c := &storage.Channel{UserID: s.user.ID}
	if f.Type != nil {
		c.Type = *f.Type
	}
	if f.Name != nil {
		c.Name = *f.Name
	}
	if f.Description != nil {
		c.Description = *f.Description
	}
	if f.IsPrivate != nil {
		c.IsPrivate = *f.IsPrivate
	}
	var others []string
	if f.UserIDs != nil {
		others = *f.UserIDs
	}
	switch c.Type {
	case storage.ChannelStandard:
		if s.user.Role != storage.RoleAdmin { // as Open WebUI: standard channels are the admins'
			writeError(w, http.StatusForbidden, msgAdminOnly)
			return
		}
	case storage.ChannelDM:
		if len(others) != 1 {
			writeError(w, http.StatusBadRequest, "a DM needs exactly one other user in user_ids")
			return
		}
		c.IsPrivate = true
	case storage.ChannelGroup:
		c.IsPrivate = true
	}
	var err error
	if c.Data, err = marshalObject(orEmpty(f.Data)); err == nil {
		c.Meta, err = marshalObject(orEmpty(f.Meta))
	}
	if err != nil {
		a.internalError(w, r, "encode channel", err)
		return
	}
	members := []storage.ChannelMember{{UserID: s.user.ID, Role: storage.MemberManager, IsActive: true}}
	for _, id := range others {
		members = append(members, storage.ChannelMember{UserID: id, Role: storage.MemberMember, IsActive: true})
	}
	err = a.cfg.Store.CreateChannel(r.Context(), c, members)
	if c.Type == storage.ChannelDM && errors.Is(err, storage.ErrConflict) {
		// Opening a DM that exists answers it (racing opens make one).
		dm, ferr := a.cfg.Store.FindDM(r.Context(), s.user.ID, others[0])
		if ferr != nil {
			a.internalError(w, r, "find dm", ferr)
			return
		}
		if err := a.cfg.Store.SetMemberActive(r.Context(), dm.ID, s.user.ID, true); err != nil {
			a.internalError(w, r, "reactivate dm", err)
			return
		}
		a.writeChannel(w, r, dm, true)
		return
	}
	if errors.Is(err, storage.ErrNotFound) {
		writeError(w, http.StatusNotFound, "user not found")
		return
	} else if err != nil {
		a.internalError(w, r, "create channel", err)
		return
	}
	if c.Type == storage.ChannelDM && others[0] != s.user.ID {
		// The other side sees the DM once there is a message in it.
		if err := a.cfg.Store.SetMemberActive(r.Context(), c.ID, others[0], false); err != nil {
			a.internalError(w, r, "hide dm", err)
			return
		}
	}
	if j := a.cfg.Channels.Joined; j != nil {
		ids := make([]string, 0, len(members))
		for _, m := range members {
			if !slices.Contains(ids, m.UserID) {
				ids = append(ids, m.UserID)
			}
		}
		j(c.ID, ids)
	}
	a.writeChannel(w, r, c, true)
}

func orEmpty(o object) map[string]any {
	if o == nil {
		return map[string]any{}
	}
	return o
}

// writeChannel answers c with its member ids.
func (a *API) writeChannel(w http.ResponseWriter, r *http.Request, c *storage.Channel, write bool) {
	members, err := a.cfg.Store.ListChannelMembers(r.Context(), c.ID)
	if err != nil {
		a.internalError(w, r, "list members", err)
		return
	}
	ids := make([]string, len(members))
	for i, m := range members {
		ids[i] = m.UserID
	}
	writeJSON(w, http.StatusOK, channelModel{Channel: wire.ChannelOf(c), UserIDs: ids, WriteAccess: write})
}

func (a *API) listChannels(w http.ResponseWriter, r *http.Request, s *session) {
	list, err := a.cfg.Store.ListChannels(r.Context(), storage.ListChannelsOptions{UserID: s.user.ID, IncludePublic: true})
	if err != nil {
		a.internalError(w, r, "list channels", err)
		return
	}
	out := make([]channelModel, 0, len(list))
	for i := range list {
		l := &list[i]
		if !auth.CanReadChannel(s.user, &l.Channel, l.Member) || (l.Member != nil && !l.Member.IsActive) {
			continue
		}
		unread, last := l.UnreadCount, l.LastMessageAt
		out = append(out, channelModel{Channel: wire.ChannelOf(&l.Channel), UnreadCount: &unread, LastMessageAt: &last,
			WriteAccess: true})
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) getChannel(w http.ResponseWriter, r *http.Request, c *chanReq) {
	a.writeChannel(w, r, c.ch, true)
}

func (a *API) updateChannel(w http.ResponseWriter, r *http.Request, c *chanReq) {
	var f channelForm
	if !a.readForm(w, r, &f) {
		return
	}
	if err := f.check(false); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if f.Type != nil || f.UserIDs != nil {
		writeError(w, http.StatusBadRequest, "type and user_ids cannot be updated here")
		return
	}
	ch := *c.ch
	if f.Name != nil {
		if *f.Name == "" && ch.Type != storage.ChannelDM {
			writeError(w, http.StatusBadRequest, "name is required")
			return
		}
		ch.Name = *f.Name
	}
	if f.Description != nil {
		ch.Description = *f.Description
	}
	if f.IsPrivate != nil && ch.Type == storage.ChannelStandard {
		ch.IsPrivate = *f.IsPrivate
	}
	var err error
	if f.Data != nil {
		ch.Data, err = marshalObject(f.Data)
	}
	if f.Meta != nil && err == nil {
		ch.Meta, err = marshalObject(f.Meta)
	}
	if err == nil {
		ch.UpdatedAt = 0
		err = a.cfg.Store.UpdateChannel(r.Context(), &ch)
	}
	if errors.Is(err, storage.ErrNotFound) {
		writeError(w, http.StatusNotFound, msgNotFound)
		return
	} else if err != nil {
		a.internalError(w, r, "update channel", err)
		return
	}
	if ch.Type == storage.ChannelStandard && ch.IsPrivate {
		// Not only when c.ch was public: another request may have made it
		// public since it was loaded, and this write (the whole row, as
		// loaded) made it private again.
		a.keepReaders(r, &ch)
	}
	a.writeChannel(w, r, &ch, true)
}

// keepReaders takes the sockets of every account that may not read ch (a
// private standard channel, perhaps public until this update) out of its
// room, which join-channels put them in while it was public: all but its
// readers' sockets leave. Its readers are among its members and the
// admins (auth.CanReadChannel), so only those accounts are read, not
// every account. If they cannot be read, every socket leaves: members get
// the channel back when they join-channels again, and nobody else hears
// its messages meanwhile.
func (a *API) keepReaders(r *http.Request, ch *storage.Channel) {
	keep := a.cfg.Channels.Keep
	if keep == nil {
		return
	}
	users, err := a.cfg.Store.ListChannelAccounts(r.Context(), ch.ID, storage.RoleAdmin)
	var members []storage.ChannelMember
	if err == nil {
		members, err = a.cfg.Store.ListChannelMembers(r.Context(), ch.ID)
	}
	if err != nil {
		a.log.ErrorContext(r.Context(), "channel made private: every socket leaves it", "channel", ch.ID, "err", err)
		keep(ch.ID, nil)
		return
	}
	member := make(map[string]*storage.ChannelMember, len(members))
	for i := range members {
		member[members[i].UserID] = &members[i]
	}
	readers := []string{}
	for i := range users {
		if auth.CanReadChannel(&users[i], ch, member[users[i].ID]) {
			readers = append(readers, users[i].ID)
		}
	}
	keep(ch.ID, readers)
}

func (a *API) deleteChannel(w http.ResponseWriter, r *http.Request, c *chanReq) {
	err := a.cfg.Store.DeleteChannel(r.Context(), c.ch.ID)
	if errors.Is(err, storage.ErrNotFound) {
		writeError(w, http.StatusNotFound, msgNotFound)
		return
	} else if err != nil {
		a.internalError(w, r, "delete channel", err)
		return
	}
	a.endAnswers(r, func(reply *storage.Message) bool { return reply.ChannelID == c.ch.ID })
	if l := a.cfg.Channels.Left; l != nil {
		l(c.ch.ID, nil)
	}
	writeJSON(w, http.StatusOK, true)
}

type membersForm struct {
	UserIDs *[]string `json:"user_ids"`
}

func (a *API) readMembers(w http.ResponseWriter, r *http.Request, c *chanReq) ([]string, bool) {
	var f membersForm
	if !a.readForm(w, r, &f) {
		return nil, false
	}
	if f.UserIDs == nil {
		writeError(w, http.StatusBadRequest, "user_ids is required")
		return nil, false
	}
	if err := checkUserIDs(*f.UserIDs); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return nil, false
	}
	if c.ch.Type == storage.ChannelDM {
		writeError(w, http.StatusBadRequest, "a DM's members cannot change")
		return nil, false
	}
	return *f.UserIDs, true
}

func (a *API) addMembers(w http.ResponseWriter, r *http.Request, c *chanReq) {
	ids, valid := a.readMembers(w, r, c)
	if !valid {
		return
	}
	members := make([]storage.ChannelMember, len(ids))
	for i, id := range ids {
		members[i] = storage.ChannelMember{UserID: id, Role: storage.MemberMember, IsActive: true}
	}
	err := a.cfg.Store.AddChannelMembers(r.Context(), c.ch.ID, members)
	if errors.Is(err, storage.ErrNotFound) {
		writeError(w, http.StatusNotFound, "user not found")
		return
	} else if err != nil {
		a.internalError(w, r, "add members", err)
		return
	}
	if j := a.cfg.Channels.Joined; j != nil && len(ids) > 0 {
		j(c.ch.ID, ids)
	}
	a.writeChannel(w, r, c.ch, true)
}

func (a *API) removeMembers(w http.ResponseWriter, r *http.Request, c *chanReq) {
	ids, valid := a.readMembers(w, r, c)
	if !valid {
		return
	}
	if slices.Contains(ids, c.ch.UserID) {
		writeError(w, http.StatusBadRequest, "the owner cannot be removed")
		return
	}
	if err := a.cfg.Store.RemoveChannelMembers(r.Context(), c.ch.ID, ids); err != nil {
		a.internalError(w, r, "remove members", err)
		return
	}
	if l := a.cfg.Channels.Left; l != nil && len(ids) > 0 {
		l(c.ch.ID, ids)
	}
	a.writeChannel(w, r, c.ch, true)
}

// page reads ?skip (absent: 0) and ?limit (absent: messagePageDefault),
// 400 when not integers from 0 and from 1 to maxMessagePage.
func page(r *http.Request) (skip, limit int, err error) {
	q := r.URL.Query()
	if skip, err = intParam(q, "skip", 0, 0, 1<<30); err != nil {
		return 0, 0, err
	}
	if limit, err = intParam(q, "limit", messagePageDefault, 1, maxMessagePage); err != nil {
		return 0, 0, err
	}
	return skip, limit, nil
}

// messages fills the authors and reactions of msgs.
func (a *API) messages(r *http.Request, msgs []wire.Message) error {
	ids := make([]string, len(msgs))
	users := map[string]*wire.UserName{}
	for i := range msgs {
		ids[i] = msgs[i].ID
		uid := msgs[i].UserID
		if _, done := users[uid]; !done {
			u, err := a.cfg.Store.GetUser(r.Context(), uid)
			switch {
			case errors.Is(err, storage.ErrNotFound):
				users[uid] = nil
			case err != nil:
				return err
			default:
				n := wire.UserNameOf(u)
				users[uid] = &n
			}
		}
		msgs[i].User = users[uid]
	}
	reactions, err := a.cfg.Store.ListReactions(r.Context(), ids)
	if err != nil {
		return err
	}
	for i := range msgs {
		for _, re := range reactions[msgs[i].ID] {
			msgs[i].Reactions = append(msgs[i].Reactions, wire.Reaction{Name: re.Name, UserIDs: re.UserIDs, Count: re.Count})
		}
	}
	return nil
}

func threadOf(t *storage.MessageThread) wire.Message {
	m := wire.MessageOf(&t.Message)
	m.ReplyCount = t.ReplyCount
	if t.LatestReplyAt != 0 {
		at := t.LatestReplyAt
		m.LatestReplyAt = &at
	}
	return m
}

func (a *API) listMessages(w http.ResponseWriter, r *http.Request, c *chanReq) {
	skip, limit, err := page(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	list, err := a.cfg.Store.ListMessages(r.Context(), c.ch.ID, skip, limit)
	if err != nil {
		a.internalError(w, r, "list messages", err)
		return
	}
	out := make([]wire.Message, len(list))
	for i := range list {
		out[i] = threadOf(&list[i])
	}
	if err := a.messages(r, out); err != nil {
		a.internalError(w, r, "message details", err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// listThread answers the replies to {mid}, newest first, then (on the last
// page) the thread's root, as Open WebUI's thread view reads it.
func (a *API) listThread(w http.ResponseWriter, r *http.Request, c *chanReq, root *storage.Message) {
	skip, limit, err := page(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if root.ParentID != "" {
		writeError(w, http.StatusBadRequest, "this message is a reply, not a thread")
		return
	}
	replies, err := a.cfg.Store.ListReplies(r.Context(), root.ID, skip, limit)
	if err != nil {
		a.internalError(w, r, "list replies", err)
		return
	}
	out := make([]wire.Message, 0, len(replies)+1)
	for i := range replies {
		out = append(out, wire.MessageOf(&replies[i]))
	}
	if len(replies) < limit {
		out = append(out, wire.MessageOf(root))
	}
	if err := a.messages(r, out); err != nil {
		a.internalError(w, r, "message details", err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

type messageForm struct {
	Content   *string `json:"content"`
	ParentID  *string `json:"parent_id"`
	ReplyToID *string `json:"reply_to_id"`
	TempID    *string `json:"temp_id"`
	Data      object  `json:"data"`
	Meta      object  `json:"meta"`
}

// check validates the form: content is required (post) and bounded.
func (f *messageForm) check(w http.ResponseWriter) bool {
	switch {
	case f.Content == nil:
		writeError(w, http.StatusBadRequest, "content is required")
	case len(*f.Content) > MaxMessageContentBytes:
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("content must be at most %d bytes", MaxMessageContentBytes))
	case !cleanText(*f.Content):
		writeError(w, http.StatusBadRequest, "content must be UTF-8 text without NUL characters")
	case f.ParentID != nil && *f.ParentID != "" && !validID(*f.ParentID),
		f.ReplyToID != nil && *f.ReplyToID != "" && !validID(*f.ReplyToID),
		f.TempID != nil && !validID(*f.TempID):
		writeError(w, http.StatusBadRequest, "parent_id, reply_to_id and temp_id must be ids")
	case !cleanValue(map[string]any(f.Data)) || !cleanValue(map[string]any(f.Meta)):
		writeError(w, http.StatusBadRequest, msgBadValue)
	default:
		return true
	}
	return false
}

// emit sends one events:channel change to the channel's room.
func (a *API) emit(c *chanReq, typ string, messageID string, data any) {
	e := a.cfg.Channels.Emit
	if e == nil {
		return
	}
	u, ch := wire.UserNameOf(c.s.user), wire.ChannelOf(c.ch)
	var mid *string
	if messageID != "" {
		mid = &messageID
	}
	b, err := json.Marshal(wire.ChannelEvent{ChannelID: c.ch.ID, MessageID: mid, User: &u, Channel: &ch,
		Data: wire.EventData{Type: typ, Data: data}})
	if err != nil {
		a.log.Error("encode channel event", "channel", c.ch.ID, "err", err)
		return
	}
	e(c.ch.ID, b, c.s.user.ID)
}

func (a *API) postMessage(w http.ResponseWriter, r *http.Request, c *chanReq) {
	var f messageForm
	if !a.readForm(w, r, &f) || !f.check(w) {
		return
	}
	if !modelIDKept(f.Meta, nil) {
		writeError(w, http.StatusBadRequest, msgModelIDServers)
		return
	}
	m := &storage.Message{UserID: c.s.user.ID, ChannelID: c.ch.ID, Content: *f.Content}
	if f.ParentID != nil {
		m.ParentID = *f.ParentID
	}
	if f.ReplyToID != nil {
		m.ReplyToID = *f.ReplyToID
	}
	var err error
	if m.Data, err = marshalObject(orEmpty(f.Data)); err == nil {
		m.Meta, err = marshalObject(orEmpty(f.Meta))
	}
	if err == nil {
		err = a.cfg.Store.PostMessage(r.Context(), m)
	}
	if errors.Is(err, storage.ErrNotFound) {
		writeError(w, http.StatusNotFound, "parent or quoted message not found in this channel")
		return
	} else if err != nil {
		a.internalError(w, r, "post message", err)
		return
	}
	if c.ch.Type == storage.ChannelDM {
		if err := a.reactivate(r, c.ch.ID); err != nil {
			a.internalError(w, r, "reactivate dm", err)
			return
		}
	}
	// A new message's author is the caller and it has no reactions yet:
	// nothing more to read before it goes out.
	out := wire.MessageOf(m)
	author := wire.UserNameOf(c.s.user)
	out.User = &author
	if f.TempID != nil {
		out.TempID = *f.TempID
	}
	a.emit(c, "message", m.ID, out)
	if m.ParentID != "" {
		a.emitParent(r, c, m.ParentID)
	}
	a.answerMentions(r, c, m) // a model mentioned answers in the thread
	writeJSON(w, http.StatusOK, out)
}

// reactivate shows a DM again to members who had it hidden.
func (a *API) reactivate(r *http.Request, channelID string) error {
	members, err := a.cfg.Store.ListChannelMembers(r.Context(), channelID)
	if err != nil {
		return err
	}
	for _, m := range members {
		if !m.IsActive {
			if err := a.cfg.Store.SetMemberActive(r.Context(), channelID, m.UserID, true); err != nil {
				return err
			}
		}
	}
	return nil
}

// emitParent sends message:reply with the thread root's new summary.
func (a *API) emitParent(r *http.Request, c *chanReq, parentID string) {
	// The count and newest time only: reading every reply to count them
	// loaded a whole thread (up to 64 KiB each) on each reply posted.
	t, err := a.cfg.Store.GetThread(r.Context(), parentID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return // deleted meanwhile: nothing to update
	case err != nil:
		a.log.Error("get thread", "message", parentID, "err", err)
		return
	}
	out := []wire.Message{threadOf(t)}
	if err := a.messages(r, out); err != nil {
		a.log.Error("message details", "message", parentID, "err", err)
		return
	}
	a.emit(c, "message:reply", parentID, out[0])
}

// messageOut is m with author and reactions, or false (answered 500).
func (a *API) messageOut(w http.ResponseWriter, r *http.Request, m *storage.Message) (wire.Message, bool) {
	out := []wire.Message{wire.MessageOf(m)}
	if err := a.messages(r, out); err != nil {
		a.internalError(w, r, "message details", err)
		return wire.Message{}, false
	}
	return out[0], true
}

func (a *API) updateMessage(w http.ResponseWriter, r *http.Request, c *chanReq, m *storage.Message) {
	var f messageForm
	if !a.readForm(w, r, &f) || !f.check(w) {
		return
	}
	if m.UserID != c.s.user.ID && c.s.user.Role != storage.RoleAdmin {
		writeError(w, http.StatusForbidden, msgForbidden)
		return
	}
	if !modelIDKept(f.Meta, m.Meta) { // a message's model_id never changes
		writeError(w, http.StatusBadRequest, msgModelIDServers)
		return
	}
	var data, meta json.RawMessage
	var err error
	if f.Data != nil {
		data, err = marshalObject(f.Data)
	}
	if f.Meta != nil && err == nil {
		meta, err = marshalObject(f.Meta)
	}
	if err != nil {
		a.internalError(w, r, "encode message", err)
		return
	}
	stored, err := a.cfg.Store.UpdateMessage(r.Context(), m.ID, func(m *storage.Message) error {
		m.Content = *f.Content
		if data != nil {
			m.Data = data
		}
		if meta != nil {
			m.Meta = meta
		}
		return nil
	})
	a.answerUpdate(w, r, c, "update message", stored, err)
}

// answerUpdate finishes a stored change of a message: 404 or 500 for err,
// else message:update to the channel and the message as the answer.
func (a *API) answerUpdate(w http.ResponseWriter, r *http.Request, c *chanReq, op string, stored *storage.Message, err error) {
	if errors.Is(err, storage.ErrNotFound) {
		writeError(w, http.StatusNotFound, msgNotFound)
		return
	} else if err != nil {
		a.internalError(w, r, op, err)
		return
	}
	out, done := a.messageOut(w, r, stored)
	if !done {
		return
	}
	a.emit(c, "message:update", stored.ID, out)
	writeJSON(w, http.StatusOK, out)
}

func (a *API) deleteMessage(w http.ResponseWriter, r *http.Request, c *chanReq, m *storage.Message) {
	if m.UserID != c.s.user.ID && !c.manage() {
		writeError(w, http.StatusForbidden, msgForbidden)
		return
	}
	err := a.cfg.Store.DeleteMessage(r.Context(), m.ID)
	if errors.Is(err, storage.ErrNotFound) {
		writeError(w, http.StatusNotFound, msgNotFound)
		return
	} else if err != nil {
		a.internalError(w, r, "delete message", err)
		return
	}
	// Replies go with a thread's root.
	a.endAnswers(r, func(reply *storage.Message) bool { return reply.ID == m.ID || reply.ParentID == m.ID })
	out := wire.MessageOf(m)
	actor := wire.UserNameOf(c.s.user)
	out.User = &actor // as Open WebUI: {**message, "user": actor}
	a.emit(c, "message:delete", m.ID, out)
	if m.ParentID != "" {
		a.emitParent(r, c, m.ParentID)
	}
	writeJSON(w, http.StatusOK, true)
}

type reactionForm struct {
	Name *string `json:"name"`
}

func (a *API) reaction(w http.ResponseWriter, r *http.Request, c *chanReq, m *storage.Message, add bool) {
	var f reactionForm
	if !a.readForm(w, r, &f) {
		return
	}
	if f.Name == nil || *f.Name == "" || !cleanText(*f.Name) || utf8.RuneCountInString(*f.Name) > MaxReactionRunes {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("name must be text of 1 to %d characters", MaxReactionRunes))
		return
	}
	var err error
	if add {
		_, err = a.cfg.Store.AddReaction(r.Context(), m.ID, c.s.user.ID, *f.Name, a.cfg.Now().UnixNano(), MaxReactionNames)
	} else {
		_, err = a.cfg.Store.RemoveReaction(r.Context(), m.ID, c.s.user.ID, *f.Name)
	}
	if errors.Is(err, storage.ErrLimit) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("a message takes at most %d different reactions", MaxReactionNames))
		return
	}
	if errors.Is(err, storage.ErrNotFound) {
		writeError(w, http.StatusNotFound, msgNotFound)
		return
	} else if err != nil {
		a.internalError(w, r, "reaction", err)
		return
	}
	out, done := a.messageOut(w, r, m)
	if !done {
		return
	}
	out.Name = *f.Name
	typ := "message:reaction:remove"
	if add {
		typ = "message:reaction:add"
	}
	a.emit(c, typ, m.ID, out)
	writeJSON(w, http.StatusOK, true)
}

func (a *API) reactionAdd(w http.ResponseWriter, r *http.Request, c *chanReq, m *storage.Message) {
	a.reaction(w, r, c, m, true)
}

func (a *API) reactionRemove(w http.ResponseWriter, r *http.Request, c *chanReq, m *storage.Message) {
	a.reaction(w, r, c, m, false)
}

type pinForm struct {
	IsPinned *bool `json:"is_pinned"`
}

func (a *API) pinMessage(w http.ResponseWriter, r *http.Request, c *chanReq, m *storage.Message) {
	var f pinForm
	if !a.readForm(w, r, &f) {
		return
	}
	if f.IsPinned == nil {
		writeError(w, http.StatusBadRequest, "is_pinned is required")
		return
	}
	stored, err := a.cfg.Store.PinMessage(r.Context(), m.ID, *f.IsPinned, c.s.user.ID, a.cfg.Now().UnixNano())
	a.answerUpdate(w, r, c, "pin message", stored, err)
}
