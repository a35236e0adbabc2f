package realtime

import (
	"context"

	"github.com/zishang520/socket.io/parsers/socket/v3/parser"
	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"

	"github.com/quire/quire/storage"
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
		// Still in the room, read after isLeaving: an eviction that ended
		// since ids was read left the room before it stopped marking the
		// socket leaving (notes.go), and a recipient written before this
		// one can take long enough for that (an inline write).
		if c.isLeaving(room) || !ids.Has(id) {
			continue
		}
		if c.ws != nil {
			if st := c.eng.ReadyState(); st != "closing" && st != "closed" { // as the engine's own send
				c.ws.sendFrame(frame)
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
