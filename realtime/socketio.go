package realtime

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
)

// Socket.IO v5 packets as clients send them (socket.io-parser's text
// encoding): <type>[<attachments>-][<nsp>,][<id>][<JSON>], binary
// attachments following as binary messages.

// Socket.IO packet types.
const (
	sioConnect      = 0
	sioDisconnect   = 1
	sioEvent        = 2
	sioAck          = 3
	sioConnectError = 4
	sioBinaryEvent  = 5
	sioBinaryAck    = 6
)

// maxAttachments bounds the attachments one packet may announce.
const maxAttachments = 1000

// sioPacket is a decoded packet: an event's name and arguments, an ack's
// arguments, or a CONNECT's auth.
type sioPacket struct {
	typ         int
	nsp         string
	id          *uint64
	attachments int
	name        string
	args        []any
	auth        any
	raw         json.RawMessage // a binary packet's data, decoded once its attachments are in (fill)
}

var errBadPacket = errors.New("invalid Socket.IO packet")

// decodeSIO decodes one text packet; an error means the connection closes
// ("parse error"), as the library's decoder errors did.
func decodeSIO(b []byte) (sioPacket, error) {
	var p sioPacket
	if len(b) == 0 || b[0] < '0' || b[0] > '6' {
		return p, errBadPacket
	}
	p.typ = int(b[0] - '0')
	i := 1
	if p.typ == sioBinaryEvent || p.typ == sioBinaryAck {
		j := i
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		if j == i || j >= len(b) || b[j] != '-' || j-i > 4 {
			return p, errBadPacket
		}
		n, _ := strconv.Atoi(string(b[i:j]))
		if n > maxAttachments {
			return p, errBadPacket
		}
		p.attachments = n
		i = j + 1
	}
	p.nsp = "/"
	if i < len(b) && b[i] == '/' {
		j := bytes.IndexByte(b[i:], ',')
		if j < 0 {
			p.nsp = string(b[i:])
			i = len(b)
		} else {
			p.nsp = string(b[i : i+j])
			i += j + 1
		}
	}
	j := i
	for j < len(b) && b[j] >= '0' && b[j] <= '9' {
		j++
	}
	if j > i {
		if j-i > maxAckIDDigits {
			return p, errBadPacket
		}
		n, err := strconv.ParseUint(string(b[i:j]), 10, 64)
		if err != nil {
			return p, errBadPacket
		}
		p.id = &n
		i = j
	}
	data := b[i:]
	if len(data) > 0 && !json.Valid(data) {
		return p, errBadPacket
	}
	switch p.typ {
	case sioConnect:
		if len(data) > 0 {
			var v any
			_ = json.Unmarshal(data, &v)
			if _, isObj := v.(map[string]any); !isObj {
				return p, errBadPacket
			}
			p.auth = v
		}
	case sioDisconnect:
		if len(data) > 0 {
			return p, errBadPacket
		}
	case sioEvent, sioAck:
		return p, p.decodeArgs(data, nil)
	case sioBinaryEvent, sioBinaryAck:
		if len(data) == 0 || data[0] != '[' {
			return p, errBadPacket
		}
		p.raw = bytes.Clone(data)
		if p.attachments == 0 {
			return p, p.fill(nil)
		}
	default: // CONNECT_ERROR is the server's
		return p, errBadPacket
	}
	return p, nil
}

// decodeArgs decodes data, an array, into the packet's name (events) and
// arguments, with attachments put in place of their placeholders.
func (p *sioPacket) decodeArgs(data []byte, attachments [][]byte) error {
	var a []any
	if len(data) == 0 || data[0] != '[' || json.Unmarshal(data, &a) != nil {
		return errBadPacket
	}
	if attachments != nil {
		for i := range a {
			v, err := placeAttachments(a[i], attachments)
			if err != nil {
				return err
			}
			a[i] = v
		}
	}
	if p.typ == sioEvent || p.typ == sioBinaryEvent {
		if len(a) == 0 {
			return errBadPacket
		}
		name, ok := a[0].(string)
		if !ok {
			return errBadPacket
		}
		p.name, a = name, a[1:]
	}
	p.args = a
	return nil
}

// fill decodes a binary packet once its attachments are in.
func (p *sioPacket) fill(attachments [][]byte) error {
	if attachments == nil {
		attachments = [][]byte{}
	}
	err := p.decodeArgs(p.raw, attachments)
	p.raw = nil
	return err
}

// placeAttachments replaces {"_placeholder":true,"num":n} in v by the n-th
// attachment, as the library's decoder did: a placeholder past the
// attachments is an error (the connection closes), and an object whose
// flag is not true or whose num is not a whole number ≥ 0 is no
// placeholder (it stays an object, which no handler takes for bytes).
func placeAttachments(v any, att [][]byte) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		if ph, _ := x["_placeholder"].(bool); ph {
			if n, isNum := x["num"].(float64); isNum {
				if n >= 0 && n == float64(int(n)) {
					if int(n) >= len(att) {
						return nil, errBadPacket
					}
					return att[int(n)], nil
				}
			}
		}
		for k, e := range x {
			r, err := placeAttachments(e, att)
			if err != nil {
				return nil, err
			}
			x[k] = r
		}
	case []any:
		for i, e := range x {
			r, err := placeAttachments(e, att)
			if err != nil {
				return nil, err
			}
			x[i] = r
		}
	}
	return v, nil
}
