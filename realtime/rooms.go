package realtime

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"

	"github.com/quire/quire/storage"
)

// This file joins the Socket.IO rooms to the Broker: what the server sends
// to a room is published, what the broker delivers is written to the local
// sockets in the room, and the instance subscribes to a room while it has
// sockets there.

// delivery is the Server's BrokerHandler.
type delivery struct{ s *Server }

// HandleMessage writes m to this instance's sockets in m.Room.
func (d delivery) HandleMessage(m Message) {
	d.s.met.broadcastBytes.Add(float64(len(m.Payload)))
	d.s.remoteAwarenessUpdate(m) // awareness_remote.go; before a socket can see it
	d.s.toRoomDirect(m.Room, m.Except, m.Event, preEncoded(m.Payload))
	d.s.remoteUpdate(m) // docs_remote.go
}

// HandleCommand does c to this instance's sockets.
func (d delivery) HandleCommand(c Command) {
	s := d.s
	switch c.Kind {
	case CommandDisconnectUser:
		s.disconnectLocal(c.UserID)
	case CommandAccessChanged:
		s.accessChanged(c.NoteID)
		if err := s.evictLost(c.NoteID); err != nil {
			s.log.Error("note lookup for eviction failed", "note", c.NoteID, "err", err)
		}
	case CommandNoteDeleted:
		s.accessChanged(c.NoteID)
		s.evict(c.NoteID, func(*storage.User) bool { return false }, true)
	case CommandJoinRoom:
		roomCommandHook(s, c)
		s.joinLocal(c.Room, c.UserIDs)
	case CommandLeaveRoom:
		roomCommandHook(s, c)
		s.leaveLocal(c.Room, c.UserIDs, false)
	case CommandKeepRoom:
		roomCommandHook(s, c)
		s.leaveLocal(c.Room, c.UserIDs, true)
	case CommandCall:
		s.answerCall(c)
	case CommandCallReply:
		s.calls.finish(c.CallID, c.Payload, nil)
	case CommandCallGone:
		s.calls.finish(c.CallID, nil, ErrSessionGone)
	default:
		s.log.Warn("unknown broker command", "kind", c.Kind)
	}
}

// publish sends m through the broker.
func (s *Server) publish(m Message) {
	if err := s.broker.Publish(s.baseCtx, m); err != nil {
		level := errorLevel(err)
		s.log.Log(s.baseCtx, level, "publish failed", "room", m.Room, "event", m.Event, "err", err)
	}
}

// command sends c to every instance through the broker; should the broker
// refuse it (stopped), this instance still acts on it.
func (s *Server) command(c Command) {
	c.Origin = Origin{Instance: s.cfg.Instance}
	if err := s.broker.Command(s.baseCtx, c); err != nil {
		s.log.Log(s.baseCtx, errorLevel(err), "broker command failed; applied here only", "kind", c.Kind, "err", err)
		delivery{s}.HandleCommand(c)
	}
}

// commandWait sends c to every instance and returns once each live one
// has handled it (Broker.CommandWait); what it could not confirm is
// logged. Should the broker refuse it (stopped), this instance still acts.
func (s *Server) commandWait(c Command) {
	c.Origin = Origin{Instance: s.cfg.Instance}
	err := s.broker.CommandWait(s.baseCtx, c)
	switch {
	case err == nil:
	case errors.Is(err, ErrUnconfirmed):
		// One line per outage, not per channel created or joined meanwhile.
		if ok, quiet := s.warn.allow("unconfirmed command"); ok {
			s.log.Warn("broker command not confirmed by every instance", "kind", c.Kind, "room", c.Room, "err", err, "suppressed", quiet)
		}
	default:
		s.log.Log(s.baseCtx, errorLevel(err), "broker command failed; applied here only", "kind", c.Kind, "err", err)
		delivery{s}.HandleCommand(c)
	}
}

// origin is a message's origin when socket sid sent it ("" for the server).
func (s *Server) origin(sid string) Origin {
	o := Origin{Instance: s.cfg.Instance, SID: sid}
	if sid != "" {
		if c, ok := s.conns.Load(sid); ok {
			if u := c.(*conn).user.Load(); u != nil {
				o.UserID = u.ID
			}
		}
	}
	return o
}

// roomSubscriptions keeps the broker subscribed to exactly the shared
// rooms that have local sockets. Joins and leaves announce a change
// (Server.roomChanged) from the goroutines that make them, which can race;
// each announcement makes the subscription match the room as it is now,
// one at a time, so the last one leaves it right.
type roomSubscriptions struct {
	mu         sync.Mutex
	subscribed map[string]struct{}
}

func (r *roomSubscriptions) sync(s *Server, room string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	want := s.reg.size(room) > 0
	_, have := r.subscribed[room]
	if want == have {
		return
	}
	ctx, cancel := context.WithTimeout(s.baseCtx, s.cfg.EventTimeout)
	defer cancel()
	var err error
	if want {
		if err = s.broker.Subscribe(ctx, room); err == nil {
			r.subscribed[room] = struct{}{}
			s.subscribedDoc(room) // docs_remote.go
		}
	} else {
		delete(r.subscribed, room) // whatever the broker says, nothing local is left to deliver to
		err = s.broker.Unsubscribe(ctx, room)
		s.unsubscribedDoc(room) // awareness_remote.go
	}
	if err != nil {
		s.log.Log(ctx, errorLevel(err), "broker subscription failed", "room", room, "subscribe", want, "err", err)
	}
}

// sharedRoom: rooms that messages are published to. A socket's own room
// (its id) is not one: what is for one socket is written to it directly.
func sharedRoom(room string) bool {
	if room == presenceRoomName {
		return true
	}
	for _, p := range []string{"doc_", "note:", "user:", "channel:", "chat:"} {
		if strings.HasPrefix(room, p) {
			return true
		}
	}
	return false
}

// errorLevel: a stopped broker (shutdown) is expected, anything else is not.
func errorLevel(err error) slog.Level {
	if errors.Is(err, ErrBrokerStopped) || errors.Is(err, context.Canceled) {
		return slog.LevelDebug
	}
	return slog.LevelError
}
