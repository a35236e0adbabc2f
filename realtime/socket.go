package realtime

import (
	"maps"
	"slices"
	"sync"
)

// socketConn is one client's Socket.IO connection (default namespace) as
// conn uses it: what the server writes to it and how it ends. Rooms are
// not the connection's: they are Quire's own (roomRegistry), so the fan-out,
// the broker's subscriptions and the room lookups work the same whatever
// serves the connection. Two implementations: the library's for polling
// (socket_library.go) and Quire's own for websockets (socket_ws.go).
// Incoming events reach conn.onEvent; the close reaches conn.disconnected.
type socketConn interface {
	// emit sends event with payload (preEncoded JSON, or a value for
	// encoding/json); with ack non-nil the packet asks for an ack, which
	// calls ack with the client's arguments.
	emit(event string, payload any, ack func(args []any)) error
	// sendFrame sends a room message: f is its shared websocket frame and
	// pkt the Socket.IO packet in it (for transports that frame otherwise).
	sendFrame(f *sharedFrame, pkt []byte)
	// sendState sends the Socket.IO packet pkt and its binary attachment
	// (nil: none), nothing written between them. Neither may change after.
	sendState(pkt, attach []byte)
	// disconnect ends the socket from the server side (DISCONNECT "41",
	// then the connection closes).
	disconnect()
	// accept answers the socket's CONNECT: it has authenticated and joined
	// its rooms. Until then the transport holds what is sent to it.
	accept()
}

// ackFunc answers an incoming event's ack.
type ackFunc func(args []any)

// roomRegistry is the server's rooms: room name → local sockets. A socket's
// own rooms (conn.rooms) change under its mu with the registry, so a
// socket that left everything (leaveAll) is never put back.
type roomRegistry struct {
	mu    sync.Mutex
	rooms map[string]*roomMembers
}

// roomMembers is one room; snap is its members sorted by id, rebuilt on
// the first read after a change and never modified (readers keep it).
type roomMembers struct {
	members map[string]*conn
	snap    []*conn
}

func (r *roomRegistry) add(room string, c *conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.rooms == nil {
		r.rooms = make(map[string]*roomMembers)
	}
	m := r.rooms[room]
	if m == nil {
		m = &roomMembers{members: make(map[string]*conn, 1)}
		r.rooms[room] = m
	}
	m.members[c.sid] = c
	m.snap = nil
}

func (r *roomRegistry) remove(room string, c *conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.rooms[room]
	if m == nil || m.members[c.sid] != c {
		return
	}
	delete(m.members, c.sid)
	m.snap = nil
	if len(m.members) == 0 {
		delete(r.rooms, room)
	}
}

// members is room's sockets sorted by id (shared: do not modify).
func (r *roomRegistry) members(room string) []*conn {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.rooms[room]
	if m == nil {
		return nil
	}
	if m.snap == nil {
		s := make([]*conn, 0, len(m.members))
		for _, c := range m.members {
			s = append(s, c)
		}
		slices.SortFunc(s, func(a, b *conn) int {
			switch {
			case a.sid < b.sid:
				return -1
			case a.sid > b.sid:
				return 1
			}
			return 0
		})
		m.snap = s
	}
	return m.snap
}

// size is how many local sockets are in room.
func (r *roomRegistry) size(room string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if m := r.rooms[room]; m != nil {
		return len(m.members)
	}
	return 0
}

// join puts the socket in room; false once it left everything (closed).
func (c *conn) join(room string) bool { return c.joinAs(room, "") }

// joinAs is join for a socket of account userID ("": any account), for
// joins made outside the socket's worker: a socket moved to another
// account meanwhile (user-join) stays out. The check and the join are one
// step under mu, as the move is (setUser), so a room joined for the old
// account is always among those the move leaves.
func (c *conn) joinAs(room, userID string) bool {
	c.mu.Lock()
	if u := c.user.Load(); c.roomsClosed || (userID != "" && (u == nil || u.ID != userID)) {
		c.mu.Unlock()
		return false
	}
	if _, in := c.rooms[room]; in {
		c.mu.Unlock()
		return true
	}
	if c.rooms == nil {
		c.rooms = make(map[string]struct{}, 2)
	}
	c.rooms[room] = struct{}{}
	c.srv.reg.add(room, c)
	c.mu.Unlock()
	c.srv.roomChanged(room)
	return true
}

// leave takes the socket out of room.
func (c *conn) leave(room string) {
	c.mu.Lock()
	if _, in := c.rooms[room]; !in {
		c.mu.Unlock()
		return
	}
	delete(c.rooms, room)
	c.srv.reg.remove(room, c)
	c.mu.Unlock()
	c.srv.roomChanged(room)
}

// leaveAll takes the socket out of every room for good: it closed.
func (c *conn) leaveAll() {
	c.mu.Lock()
	c.roomsClosed = true
	rooms := c.rooms
	c.rooms = nil
	for r := range rooms {
		c.srv.reg.remove(r, c)
	}
	c.mu.Unlock()
	for r := range rooms {
		c.srv.roomChanged(r)
	}
}

// roomList is the rooms the socket is in on this instance.
func (c *conn) roomList() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Collect(maps.Keys(c.rooms))
}

// inRoom reports whether the socket is in room on this instance.
func (c *conn) inRoom(room string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, in := c.rooms[room]
	return in
}

// inRoomNotLeaving: in room, and no eviction from it pending (one lock).
func (c *conn) inRoomNotLeaving(room string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, in := c.rooms[room]
	return in && c.leaving[room] == 0
}

// roomChanged keeps the broker's subscription to a shared room right.
func (s *Server) roomChanged(room string) {
	if sharedRoom(room) {
		s.rooms.sync(s, room)
	}
}
