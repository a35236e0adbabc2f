package realtime

import (
	"github.com/zishang520/socket.io/parsers/socket/v3/parser"
	"github.com/zishang520/socket.io/v3/pkg/types"

	"github.com/quire/quire/ydoc"
)

// binaryStateMin: a document state of at least this many bytes goes out
// as a Socket.IO binary attachment, a smaller one as a JSON array of
// numbers (protocol.md §9.3; the stock client reads either with
// new Uint8Array). Measured with socket.io-parser, the client's decoder
// (docs/design.md, "Document state on the wire"): the two forms cost the
// same at about 256 bytes, a 1 KiB state costs 42 µs as JSON against
// 12 µs as an attachment (its extra websocket message included), and
// 1 MiB 53 ms against 0.13 ms. Below 1 KiB the second message (one more
// write per joiner) is not worth it.
const binaryStateMin = 1024

// sendState writes ydoc:document:state to this socket. A large state is a
// small JSON header, built per joiner (its sessions differ), followed by
// st.Update itself as the binary attachment: every joiner of one version
// writes the same bytes, shared from the document's state cache, and
// nothing state-sized is built or copied per joiner. A small state is one
// JSON packet, as Emit writes it.
//
// On a websocket the Engine.IO messages are queued as they are
// (wsSocket.sendState), in order with everything else the socket sends, and
// the header and its attachment as one queue entry, so that nothing is
// written between them.
func (c *conn) sendState(docID string, st ydoc.State) {
	sessions := c.srv.roomMembers(docRoom(docID))
	binary := len(st.Update) >= binaryStateMin
	pkt := appendStatePacket(make([]byte, 0, statePacketSize(docID, st.Update, binary, sessions)), docID, st.Update, binary, sessions)
	var attach []byte
	if binary {
		attach = st.Update
	}
	c.sock.sendState(pkt, attach)
}

// statePacketSize bounds appendStatePacket's output (JSON escapes at most
// sextuple a byte; a byte as a number with its comma takes at most 4).
func statePacketSize(docID string, update []byte, binary bool, sessions []string) int {
	n := 6*len(docID) + 80
	if !binary {
		n += 4*len(update) + 2
	}
	for _, sid := range sessions {
		n += 6*len(sid) + 3
	}
	return n
}

// attachmentPlaceholder stands for the packet's first binary attachment.
const attachmentPlaceholder = `{"_placeholder":true,"num":0}`

// appendStatePacket appends the Socket.IO packet of the state event on the
// default namespace, exactly as Emit writes it: as JSON,
//
//	2["ydoc:document:state",{"document_id":…,"state":[…],"sessions":[…]}]
//
// or, binary, the header of a packet with one attachment (the update),
//
//	51-["ydoc:document:state",{"document_id":…,"state":{"_placeholder":true,"num":0},"sessions":[…]}]
func appendStatePacket(dst []byte, docID string, update []byte, binary bool, sessions []string) []byte {
	if binary {
		dst = append(dst, byte(parser.BINARY_EVENT)+'0', '1', '-', '[')
	} else {
		dst = append(dst, byte(parser.EVENT)+'0', '[')
	}
	dst = appendString(dst, evDocState)
	dst = append(dst, `,{"document_id":`...)
	dst = appendString(dst, docID)
	dst = append(dst, `,"state":`...)
	if binary {
		dst = append(dst, attachmentPlaceholder...)
	} else {
		dst = appendInts(dst, update)
	}
	dst = append(dst, `,"sessions":[`...)
	for i, sid := range sessions {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, sid)
	}
	return append(dst, "]}]"...)
}

// sharedBytes is a read-only binary packet (an attachment): WriteToEngine
// clones each packet, and a clone of this one shares the bytes.
type sharedBytes struct{ *types.BytesBuffer }

func newSharedBytes(b []byte) sharedBytes {
	return sharedBytes{types.NewBytesBuffer(b[:len(b):len(b)]).(*types.BytesBuffer)}
}

func (s sharedBytes) Clone() types.BufferInterface { return newSharedBytes(s.Bytes()).BytesBuffer }
