package realtime

import (
	"context"

	"github.com/zishang520/socket.io/parsers/socket/v3/parser"
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
// but exceptSID. The packet is built and framed once for all recipients
// (sharedFrame), and each recipient's connection writes it as it is. The
// broker calls it with what it delivers to this instance (rooms.go).
func (s *Server) toRoomDirect(room, exceptSID, event string, payload preEncoded) {
	members := s.reg.members(room)
	if len(members) == 0 {
		return
	}
	pkt := appendEventPacket(make([]byte, 0, len(payload)+len(event)+16), event, payload)
	frame := newSharedFrame(pkt)
	var batch *wsBatch
	for _, c := range members {
		if c.sid == exceptSID {
			continue
		}
		// Still in the room, and not being evicted from it: an eviction
		// that ended since members was read left the room, and one under
		// way is marked leaving (notes.go); a recipient written before
		// this one can take long enough for either (an inline write).
		if !c.inRoomNotLeaving(room) {
			continue
		}
		if ws, ok := c.sock.(*wsSocket); ok {
			ws.sendShared(frame, &batch)
			continue
		}
		c.sock.sendFrame(frame, pkt)
	}
	if batch != nil {
		batch.write(frame.wire)
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
