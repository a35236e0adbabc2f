package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quire/quire/auth"
	"github.com/quire/quire/storage"
	"github.com/quire/quire/wire"
)

// Channels on the rooms engine (protocol §5.1, §9.7): the REST API stores a
// change, then calls EmitChannel; membership changes move the members'
// sockets on every instance through broker commands.

const (
	evJoinChannels = "join-channels"
	evChannel      = "events:channel"
)

var channelCreated = []byte(`{"data":{"type":"channel:created"}}`)

func channelRoom(channelID string) string { return "channel:" + channelID }

// EmitChannel sends an events:channel payload, already encoded, to the
// channel's room on every instance; userID is who caused it.
func (s *Server) EmitChannel(channelID string, payload []byte, userID string) {
	o := s.origin("")
	o.UserID = userID
	s.publish(Message{Room: channelRoom(channelID), Event: evChannel, Payload: payload, Origin: o})
}

// JoinChannel puts every live socket of userIDs, on every instance, into
// the channel's room, then tells each account channel:created so its tabs
// refetch their channel list. It returns once every live instance has
// joined its sockets and subscribed the room: a message the caller posts
// next reaches them all (another instance subscribes only on the command).
func (s *Server) JoinChannel(channelID string, userIDs []string) {
	if len(userIDs) == 0 {
		return
	}
	s.commandWait(Command{Kind: CommandJoinRoom, Room: channelRoom(channelID), UserIDs: userIDs})
	for _, id := range userIDs {
		s.publish(Message{Room: userRoom(id), Event: evChannel, Payload: channelCreated, Origin: s.origin("")})
	}
}

// LeaveChannel takes every socket of userIDs out of the channel's room on
// every instance; nil userIDs: every socket (the channel was deleted). A
// message this instance publishes later comes after the command anyway
// (one publisher's order); waiting for every instance also keeps one
// posted through another instance, once the removal has been answered,
// from the removed sockets.
func (s *Server) LeaveChannel(channelID string, userIDs []string) {
	s.commandWait(Command{Kind: CommandLeaveRoom, Room: channelRoom(channelID), UserIDs: userIDs})
}

// KeepChannel takes every socket but those of userIDs out of the channel's
// room on every instance, as LeaveChannel does: a channel made private
// names its readers, fewer than the accounts that may not read it.
func (s *Server) KeepChannel(channelID string, userIDs []string) {
	s.commandWait(Command{Kind: CommandKeepRoom, Room: channelRoom(channelID), UserIDs: userIDs})
}

// joinLocal joins this instance's sockets of userIDs to room. Joining a
// channel room touches no worker-owned state, so it happens here, at once:
// a message posted right after the command reaches them.
func (s *Server) joinLocal(room string, userIDs []string) {
	s.joins.Add(1)
	for _, uid := range userIDs {
		sids := s.roomMembers(userRoom(uid))
		if hook, found := joinLocalListed.Load(s); found {
			hook.(func(string))(uid)
		}
		for _, sid := range sids {
			if v, ok := s.conns.Load(sid); ok {
				v.(*conn).joinAs(room, uid)
			}
		}
	}
}

// channelLeaves counts the LeaveRoom commands this instance ran.
func (s *Server) channelLeaves() *atomic.Uint64 { return &s.leaves }

// joinChannelsListed, when set for a Server (tests only), runs between
// join-channels' listing and its joins.
var joinChannelsListed sync.Map // *Server → func(userID string)

// joinLocalListed, when set for a Server (tests only), runs between
// joinLocal's listing of an account's sockets and their joins.
var joinLocalListed sync.Map // *Server → func(userID string)

// roomCommandSeen, when set for a Server (tests only), runs before it
// handles a JoinRoom or LeaveRoom command.
var roomCommandSeen sync.Map // *Server → func(Command)

func roomCommandHook(s *Server, c Command) {
	if f, found := roomCommandSeen.Load(s); found {
		f.(func(Command))(c)
	}
}

// leaveLocal takes this instance's sockets of userIDs (nil: all) out of
// room; with except, every socket but theirs.
// The bump comes first, so a join-channels that listed the channel before
// the membership changed and joins after this sees it (onJoinChannels).
func (s *Server) leaveLocal(room string, userIDs []string, except bool) {
	s.channelLeaves().Add(1)
	named := make(map[string]bool, len(userIDs))
	for _, id := range userIDs {
		named[id] = true
	}
	for _, sid := range s.roomMembers(room) {
		v, ok := s.conns.Load(sid)
		if !ok {
			continue
		}
		c := v.(*conn)
		u := c.user.Load()
		isNamed := u != nil && named[u.ID]
		if (!except && (userIDs == nil || isNamed)) || (except && !isNamed) {
			c.leave(room)
		}
	}
}

// onJoinChannels: {auth?:{token}} → the rooms of every channel the account
// may read (its memberships and the public channels).
func (c *conn) onJoinChannels(ctx context.Context, payload any) reply {
	f, isObj := asFields(payload)
	if payload != nil && !isObj {
		return fail(reasonInvalidPayload)
	}
	u, _, r := c.payloadAccount(ctx, f)
	if r.reason != "" {
		return r
	}
	leaves := c.srv.channelLeaves().Load() // before storage is read
	list, err := c.srv.cfg.Store.ListChannels(ctx, storage.ListChannelsOptions{UserID: u.ID, IncludePublic: true})
	if err != nil {
		c.logErr("list channels failed", err)
		return fail(reasonUnavailable)
	}
	if hook, found := joinChannelsListed.Load(c.srv); found {
		hook.(func(string))(u.ID)
	}
	c.inChannels.Store(true)
	c.setChannels(ctx, u, list, leaves, false, 0)
	return ok()
}

// setChannels joins the socket to the rooms of the channels in list that
// u may read (listed after channelLeaves read leaves) and, with exact, takes
// it out of any other channel room, unless a JoinRoom ran since joins was
// read (the list may lack its channel): then it answers false.
func (c *conn) setChannels(ctx context.Context, u *storage.User, list []storage.ChannelListing, leaves uint64, exact bool, joins uint64) bool {
	readable := make(map[string]bool, len(list))
	for i := range list {
		if auth.CanReadChannel(u, &list[i].Channel, list[i].Member) {
			readable[channelRoom(list[i].ID)] = true
		}
	}
	complete := true
	if exact && c.srv.joins.Load() != joins {
		complete = false
	} else if exact {
		// Leaves before joins: the socket is never in a room it lost
		// while already in one it gained.
		for _, room := range c.roomList() {
			if cu := c.user.Load(); cu == nil || cu.ID != u.ID {
				break // moved to another account meanwhile (user-join): its rooms are not u's
			}
			if strings.HasPrefix(room, "channel:") && !readable[room] {
				c.leave(room)
			}
		}
	}
	var joined []string
	for i := range list {
		if room := channelRoom(list[i].ID); readable[room] {
			c.joinAs(room, u.ID) // the resync runs outside the worker: not if the socket moved to another account
			joined = append(joined, list[i].ID)
		}
	}
	if c.srv.channelLeaves().Load() != leaves {
		// A member was removed or a channel deleted since the listing, and
		// its LeaveRoom may have run before these joins: keep only the rooms
		// storage still allows (it changed before the command was sent).
		for _, id := range joined {
			if r := c.channelAccess(ctx, u, id); r.reason != "" {
				c.leave(channelRoom(id))
			}
		}
	}
	return complete
}

// gapResync runs resyncAfterGap one at a time; a gap during a run makes
// it run once more.
type gapResync struct {
	mu             sync.Mutex
	running, again bool
}

// resyncAfterGap: after a gap, other instances' commands may be lost
// (published while Redis was away). Each was sent after storage changed,
// so storage says what they would have done: the local sockets' accounts
// are read again (gap.go: DisconnectUser), then their notes' access
// (AccessChanged, NoteDeleted), then their channels (JoinRoom, LeaveRoom).
// Off the broker's goroutine.
func (s *Server) resyncAfterGap() {
	r := &s.chans
	r.mu.Lock()
	if r.running {
		r.again = true
		r.mu.Unlock()
		return
	}
	r.running = true
	r.mu.Unlock()
	go func() {
		for runs := 1; ; runs++ {
			s.resyncAccountsOnce()
			s.resyncNotesOnce()
			s.resyncChannelsOnce()
			r.mu.Lock()
			if !r.again || runs == 3 { // bounded: joins may keep racing it
				r.running = false
				r.mu.Unlock()
				return
			}
			r.again = false
			r.mu.Unlock()
		}
	}()
}

func (s *Server) resyncChannelsOnce() {
	for _, conns := range s.socketsByAccount(func(c *conn) bool { return c.inChannels.Load() }) {
		if s.baseCtx.Err() != nil {
			return
		}
		ctx, cancel := context.WithTimeout(s.baseCtx, s.cfg.EventTimeout)
		leaves, joins := s.channelLeaves().Load(), s.joins.Load()
		u := conns[0].user.Load()
		list, err := s.cfg.Store.ListChannels(ctx, storage.ListChannelsOptions{UserID: u.ID, IncludePublic: true})
		if err != nil {
			if ok, quiet := s.warn.allow("channel resync"); ok {
				s.log.Error("channel rooms not read again after a gap", "user", u.ID, "err", err, "suppressed", quiet)
			}
		} else {
			for _, c := range conns {
				if cu := c.user.Load(); cu != nil && cu.ID == u.ID { // not moved to another account meanwhile
					if !c.setChannels(ctx, cu, list, leaves, true, joins) {
						s.chans.mu.Lock()
						s.chans.again = true // read again: a join raced the listing
						s.chans.mu.Unlock()
					}
				}
			}
		}
		cancel()
	}
}

// channelAccess: the channel exists and u may read it now; it also returns
// u's membership (nil when not a member).
func (c *conn) channelAccess(ctx context.Context, u *storage.User, channelID string) (r reply) {
	r, _ = c.channelMember(ctx, u, channelID)
	return r
}

func (c *conn) channelMember(ctx context.Context, u *storage.User, channelID string) (reply, *storage.ChannelMember) {
	ch, err := c.srv.cfg.Store.GetChannel(ctx, channelID)
	if errors.Is(err, storage.ErrNotFound) {
		return fail(reasonNotJoined), nil
	} else if err != nil {
		c.logErr("channel lookup failed", err, "channel", channelID)
		return fail(reasonUnavailable), nil
	}
	m, err := c.srv.cfg.Store.GetChannelMember(ctx, channelID, u.ID)
	if errors.Is(err, storage.ErrNotFound) {
		m = nil
	} else if err != nil {
		c.logErr("member lookup failed", err, "channel", channelID)
		return fail(reasonUnavailable), nil
	}
	if !auth.CanReadChannel(u, ch, m) {
		return fail(reasonForbidden), nil
	}
	return ok(), m
}

// onChannelEvent: typing is relayed to the channel's room except the
// sender, with the sender's name; last_read_at marks the channel read for
// the account. Both need the socket in the room and read access now.
func (c *conn) onChannelEvent(ctx context.Context, payload any) reply {
	f, isObj := asFields(payload)
	channelID, isStr := f.str("channel_id")
	data, dataObj := asFields(f["data"])
	typ, typStr := data.str("type")
	if !isObj || !isStr || !dataObj || !typStr || !validID(channelID) {
		return fail(reasonInvalidPayload)
	}
	var messageID *string
	if v, present := f["message_id"]; present && v != nil {
		id, isStr := v.(string)
		if !isStr || !validID(id) {
			return fail(reasonInvalidPayload)
		}
		messageID = &id
	}
	var typing bool
	switch typ {
	case "typing":
		d, isObj := asFields(data["data"])
		t, isBool := d["typing"].(bool)
		if !isObj || !isBool {
			return fail(reasonInvalidPayload)
		}
		typing = t
	case "last_read_at":
	default:
		return fail(reasonInvalidPayload)
	}
	room := channelRoom(channelID)
	if !c.inRoom(room) {
		return fail(reasonNotJoined)
	}
	u := c.user.Load()
	r, m := c.channelMember(ctx, u, channelID)
	if r.reason != "" {
		return r
	}
	if typ == "last_read_at" {
		if m == nil {
			return fail(reasonForbidden) // only members have a read position
		}
		if err := c.srv.cfg.Store.SetLastReadAt(ctx, channelID, u.ID, time.Now().UnixNano()); err != nil {
			c.logErr("set last_read_at failed", err, "channel", channelID)
			return fail(reasonUnavailable)
		}
		return ok()
	}
	name := wire.UserNameOf(u)
	b, err := json.Marshal(wire.ChannelEvent{ChannelID: channelID, MessageID: messageID, User: &name,
		Data: wire.EventData{Type: "typing", Data: map[string]bool{"typing": typing}}})
	if err != nil {
		return fail(reasonInternal)
	}
	c.srv.publish(Message{Room: room, Event: evChannel, Payload: b, Except: c.sid, Origin: c.srv.origin(c.sid)})
	return ok()
}
