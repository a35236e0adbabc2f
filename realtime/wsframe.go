package realtime

import (
	"encoding/binary"
	"fmt"
	"unicode/utf8"
)

// The websocket protocol (RFC 6455) as Quire's engine speaks it: a push
// parser for what clients send, and the framing of what the server sends.
// No extension is negotiated (no permessage-deflate, as the library had
// it), so the RSV bits must be zero.

// Websocket opcodes (RFC 6455 5.2).
const (
	wsContinuation = 0x0
	wsText         = 0x1
	wsBinary       = 0x2
	wsClose        = 0x8
	wsPing         = 0x9
	wsPong         = 0xa
)

// Close codes (RFC 6455 7.4.1).
const (
	wsCloseNormal      = 1000
	wsCloseGoingAway   = 1001
	wsCloseProtocol    = 1002
	wsCloseInvalidData = 1007
	wsCloseTooBig      = 1009
)

// wsError is a violation by the peer: the connection is closed with code.
type wsError struct {
	code int
	msg  string
}

func (e *wsError) Error() string { return fmt.Sprintf("websocket: %s (close %d)", e.msg, e.code) }

func wsProtocolError(format string, a ...any) error {
	return &wsError{code: wsCloseProtocol, msg: fmt.Sprintf(format, a...)}
}

// wsHandler receives what wsParser decodes. data is the handler's to keep
// for a message, and only valid during the call for a control frame.
type wsHandler interface {
	wsMessage(op byte, data []byte) error
	wsControl(op byte, data []byte) error
	// wsSkipping: a frame past the limit is being skipped; err ends the
	// connection once it has all come (or sooner, the handler's choice).
	wsSkipping(err error)
}

// wsParser is a push parser of client frames: feed it bytes as they come,
// in any split; it keeps only a partial frame's state (no buffer while the
// connection is between messages, so an idle connection holds nothing).
type wsParser struct {
	limit int64 // largest message payload accepted

	hdr  [14]byte
	nhdr int // header bytes collected
	// The frame being read (inFrame): its opcode, FIN, mask and the
	// payload bytes still to come.
	inFrame bool
	fin     bool
	op      byte
	mask    [4]byte
	maskAt  int
	remain  int64

	msgOp byte   // the data message being assembled (0: none)
	msg   []byte // its payload so far
	ctl   []byte // the control frame's payload

	// tooBig: the frame being read is past the limit; its payload is
	// skipped, and this is returned once it has all come (wsSkipFactor).
	tooBig error
}

// wsSkipFactor bounds the payload of a frame past the limit that is read
// and dropped before the 1009 close (up to this many times the limit); a
// larger one closes at once. Closing with the client's bytes still unread
// makes the kernel answer with a reset, which the client may see before
// the close frame (1006, not 1009: the faults bench's F4).
const wsSkipFactor = 4

// wsPrealloc bounds what a frame's header alone reserves for its payload.
const wsPrealloc = 64 << 10

// wsHeaderLen is the header length announced by its first two bytes.
func wsHeaderLen(b1 byte) int {
	n := 2 + 4 // client frames are masked
	switch b1 & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	return n
}

// feed parses b, calling h for each whole message and control frame. An
// error is final: the connection must be closed (with its code when it is
// a *wsError).
func (p *wsParser) feed(b []byte, h wsHandler) error {
	for len(b) > 0 {
		if !p.inFrame {
			need := 2
			if p.nhdr >= 2 {
				need = wsHeaderLen(p.hdr[1])
			}
			for p.nhdr < need && len(b) > 0 {
				p.hdr[p.nhdr] = b[0]
				p.nhdr++
				b = b[1:]
				if p.nhdr == 2 {
					if err := p.checkStart(); err != nil {
						return err
					}
					need = wsHeaderLen(p.hdr[1])
				}
			}
			if p.nhdr < need {
				return nil
			}
			if err := p.startFrame(need); err != nil {
				return err
			}
			if p.tooBig != nil {
				h.wsSkipping(p.tooBig)
			}
			if p.remain == 0 {
				if err := p.endFrame(h); err != nil {
					return err
				}
			}
			continue
		}
		n := int(min(p.remain, int64(len(b))))
		chunk := b[:n]
		b = b[n:]
		if p.tooBig != nil {
			if p.remain -= int64(n); p.remain == 0 {
				return p.tooBig
			}
			continue
		}
		start := len(p.msg)
		if p.op >= wsClose {
			start = len(p.ctl)
			p.ctl = append(p.ctl, chunk...)
			p.unmask(p.ctl[start:])
		} else {
			p.msg = append(p.msg, chunk...)
			p.unmask(p.msg[start:])
		}
		p.remain -= int64(n)
		if p.remain == 0 {
			if err := p.endFrame(h); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkStart checks a frame's first two bytes.
func (p *wsParser) checkStart() error {
	b0, b1 := p.hdr[0], p.hdr[1]
	if b0&0x70 != 0 {
		return wsProtocolError("reserved bits set")
	}
	if b1&0x80 == 0 {
		return wsProtocolError("unmasked client frame")
	}
	op := b0 & 0x0f
	switch op {
	case wsContinuation, wsText, wsBinary:
	case wsClose, wsPing, wsPong:
		if b0&0x80 == 0 {
			return wsProtocolError("fragmented control frame")
		}
		if b1&0x7f > 125 {
			return wsProtocolError("control frame over 125 bytes")
		}
	default:
		return wsProtocolError("unknown opcode %d", op)
	}
	return nil
}

// startFrame reads a whole header of hl bytes.
func (p *wsParser) startFrame(hl int) error {
	p.nhdr = 0
	b0, b1 := p.hdr[0], p.hdr[1]
	p.fin, p.op = b0&0x80 != 0, b0&0x0f
	var n uint64
	switch b1 & 0x7f {
	case 126:
		n = uint64(binary.BigEndian.Uint16(p.hdr[2:]))
	case 127:
		n = binary.BigEndian.Uint64(p.hdr[2:])
	default:
		n = uint64(b1 & 0x7f)
	}
	copy(p.mask[:], p.hdr[hl-4:hl])
	p.maskAt = 0
	switch {
	case p.op >= wsClose:
		p.ctl = p.ctl[:0]
	case p.op == wsContinuation && p.msgOp == 0:
		return wsProtocolError("continuation without a message")
	case p.op != wsContinuation && p.msgOp != 0:
		return wsProtocolError("new message inside a fragmented one")
	}
	if p.op < wsClose {
		if n > uint64(p.limit) || uint64(len(p.msg))+n > uint64(p.limit) {
			err := &wsError{code: wsCloseTooBig, msg: fmt.Sprintf("message over %d bytes", p.limit)}
			if n > uint64(p.limit)*wsSkipFactor {
				return err
			}
			p.tooBig, p.msgOp, p.msg = err, 0, nil
			p.remain, p.inFrame = int64(n), true
			return nil
		}
		if p.op != wsContinuation {
			p.msgOp = p.op
			if p.fin {
				// The whole message: its exact size, up to wsPrealloc; a
				// larger one grows as its payload arrives, so a bare header
				// cannot make us reserve the limit.
				p.msg = make([]byte, 0, min(n, wsPrealloc))
			}
		}
	}
	p.remain = int64(n)
	p.inFrame = true
	return nil
}

func (p *wsParser) unmask(b []byte) {
	for i := range b {
		b[i] ^= p.mask[p.maskAt&3]
		p.maskAt++
	}
}

// endFrame hands a finished frame's message or control frame to h.
func (p *wsParser) endFrame(h wsHandler) error {
	p.inFrame = false
	if p.op >= wsClose {
		return h.wsControl(p.op, p.ctl)
	}
	if !p.fin {
		return nil
	}
	op, msg := p.msgOp, p.msg
	p.msgOp, p.msg = 0, nil // nothing kept between messages
	if op == wsText && !utf8.Valid(msg) {
		return &wsError{code: wsCloseInvalidData, msg: "invalid UTF-8 in a text message"}
	}
	if msg == nil {
		msg = []byte{}
	}
	return h.wsMessage(op, msg)
}

// wsFrameHeader returns the header of an unmasked final frame (server to
// client) of opcode op with an n-byte payload, appended to dst.
func wsFrameHeader(dst []byte, op byte, n int) []byte {
	dst = append(dst, 0x80|op)
	switch {
	case n > 0xffff:
		dst = append(dst, 127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	case n > 125:
		dst = append(dst, 126)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	default:
		dst = append(dst, byte(n))
	}
	return dst
}

// wsFrame is payload as one final frame of opcode op.
func wsFrame(op byte, payload ...[]byte) []byte {
	n := 0
	for _, b := range payload {
		n += len(b)
	}
	out := wsFrameHeader(make([]byte, 0, 10+n), op, n)
	for _, b := range payload {
		out = append(out, b...)
	}
	return out
}

// wsCloseFrame is a close frame with code and reason (at most 123 bytes).
func wsCloseFrame(code int, reason string) []byte {
	return wsFrame(wsClose, append(binary.BigEndian.AppendUint16(nil, uint16(code)), reason...))
}

// sharedFrame is an Engine.IO message ("4" and a Socket.IO packet) framed
// once for every recipient of a room message: each connection writes wire
// as it is.
type sharedFrame struct {
	wire []byte // the message as one websocket frame from the server
}

func newSharedFrame(pkt []byte) *sharedFrame {
	return &sharedFrame{wire: wsFrame(wsText, []byte{'4'}, pkt)}
}
