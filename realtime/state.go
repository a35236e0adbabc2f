package realtime

import (
	"context"

	"github.com/zishang520/socket.io/parsers/socket/v3/parser"
	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"

	"github.com/quire/quire/storage"
	"github.com/quire/quire/ydoc"
)

// noteAccess reads what a permission check needs. Every join and update
// checks; GetNote would also read the note's data, megabytes for a large
// note (50 joiners of a 1 MB document read 250 MB that way).
func (s *Server) noteAccess(ctx context.Context, noteID string) (*storage.Note, error) {
	if r, ok := s.cfg.Store.(storage.NoteAccessReader); ok {
		return r.GetNoteAccess(ctx, noteID)
	}
	return s.cfg.Store.GetNote(ctx, noteID)
}

// sendState writes ydoc:document:state to this socket. The state is a
// document's whole content as JSON (4 MB for a 1 MB document), so the
// packet is built here once, at its exact size, and the library only frames
// it: Emit would re-encode it and copy it four more times (encoder,
// per-socket clone, Engine.IO framing, or gorilla's PreparedMessage, which
// grows a bytes.Buffer by doubling).
//
// On a websocket the Engine.IO message ("4" and the packet) is built here
// and queued as it is (wsTransport.sendRaw, in order with what the library
// sent before): the engine's encoder would copy it once more.
func (c *conn) sendState(docID string, st ydoc.State) {
	sessions := c.srv.roomMembers(docRoom(docID))
	size := 1 + statePacketSize(docID, st.JSON, sessions)
	engineConn := c.sock.Conn()
	if t, isWS := engineConn.Transport().(*wsTransport); isWS {
		if rs := engineConn.ReadyState(); rs != "closing" && rs != "closed" { // as the engine's own send
			t.sendRaw(appendStatePacket(append(make([]byte, 0, size), '4'), docID, st.JSON, sessions))
		}
		return
	}
	pkt := appendStatePacket(make([]byte, 0, size), docID, st.JSON, sessions)
	c.sock.Client().WriteToEngine([]types.BufferInterface{newSharedText(pkt)}, &socket.WriteOptions{PreEncoded: true})
}

// statePacketSize bounds appendStatePacket's output (JSON escapes at most
// sextuple a byte).
func statePacketSize(docID string, stateJSON []byte, sessions []string) int {
	n := len(stateJSON) + 6*len(docID) + 64
	for _, sid := range sessions {
		n += 6*len(sid) + 3
	}
	return n
}

// appendStatePacket appends the Socket.IO packet of the state event on the
// default namespace, exactly as Emit writes it:
// 2["ydoc:document:state",{"document_id":…,"state":[…],"sessions":[…]}]
func appendStatePacket(dst []byte, docID string, stateJSON []byte, sessions []string) []byte {
	dst = append(dst, byte(parser.EVENT)+'0', '[')
	dst = appendString(dst, evDocState)
	dst = append(dst, `,{"document_id":`...)
	dst = appendString(dst, docID)
	dst = append(dst, `,"state":`...)
	dst = append(dst, stateJSON...)
	dst = append(dst, `,"sessions":[`...)
	for i, sid := range sessions {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, sid)
	}
	return append(dst, "]}]"...)
}

// sharedText is a read-only text packet: WriteToEngine clones each packet
// per socket, and a clone of this one shares the bytes instead of copying.
type sharedText struct{ *types.StringBuffer }

func newSharedText(b []byte) sharedText {
	return sharedText{types.NewStringBuffer(b[:len(b):len(b)]).(*types.StringBuffer)}
}

func (s sharedText) Clone() types.BufferInterface { return newSharedText(s.Bytes()).StringBuffer }

// toRoomDirect writes payload as one event packet to every socket in room
// but exceptSID. The packet is built once and, for websocket recipients,
// framed once and queued on each connection directly (wsTransport, whose
// queue keeps it in order with what the library sends); the library's
// room emit encodes once too, but then re-encodes and frames the packet
// per recipient. The broker calls it with what it delivers to this
// instance (rooms.go).
func (s *Server) toRoomDirect(room, exceptSID, event string, payload preEncoded) {
	ids, ok := s.io.Sockets().Adapter().Rooms().Load(socket.Room(room))
	if !ok {
		return
	}
	pkt := appendEventPacket(make([]byte, 0, len(payload)+len(event)+16), event, payload)
	frame := newSharedFrame(pkt)
	var opts *socket.WriteOptions // for other transports (polling)
	for _, id := range ids.Keys() {
		if string(id) == exceptSID {
			continue
		}
		v, ok := s.conns.Load(string(id))
		if !ok {
			continue
		}
		c := v.(*conn)
		if c.isLeaving(room) {
			continue
		}
		engineConn := c.sock.Conn()
		if t, isWS := engineConn.Transport().(*wsTransport); isWS {
			if st := engineConn.ReadyState(); st != "closing" && st != "closed" { // as the engine's own send
				t.sendFrame(frame)
			}
			continue
		}
		if opts == nil {
			opts = &socket.WriteOptions{PreEncoded: true}
		}
		c.sock.Client().WriteToEngine([]types.BufferInterface{newSharedText(pkt)}, opts)
	}
}

// appendEventPacket appends 2["event",payload], the packet Emit writes on
// the default namespace without an ack.
func appendEventPacket(dst []byte, event string, payload preEncoded) []byte {
	dst = append(dst, byte(parser.EVENT)+'0', '[')
	dst = appendString(dst, event)
	dst = append(dst, ',')
	dst = append(dst, payload...)
	return append(dst, ']')
}
