package realtime

import (
	"strconv"

	"github.com/zishang520/socket.io/parsers/socket/v3/parser"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// preEncoded is an event payload already serialised as JSON. The library's
// encoder would run json.Marshal over it, which re-scans every byte (slower
// than encoding the original values); rawParser writes it verbatim instead.
type preEncoded []byte

// MarshalJSON keeps preEncoded correct should it reach encoding/json.
func (p preEncoded) MarshalJSON() ([]byte, error) { return p, nil }

// rawParser is the default Socket.IO parser with an encoder that writes
// ["event", <preEncoded>] packets without json.Marshal.
type rawParser struct{ parser.Parser }

func (p rawParser) NewEncoder() parser.Encoder { return rawEncoder{p.Parser.NewEncoder()} }

type rawEncoder struct{ next parser.Encoder }

// Encode writes the same text as the library's encodeAsString: type digit,
// namespace unless "/", ack id, JSON array.
func (e rawEncoder) Encode(p *parser.Packet) []types.BufferInterface {
	if p.Type != parser.EVENT {
		return e.next.Encode(p)
	}
	d, isSlice := p.Data.([]any)
	if !isSlice || len(d) != 2 {
		return e.next.Encode(p)
	}
	ev, isStr := d[0].(string)
	raw, isRaw := d[1].(preEncoded)
	if !isStr || !isRaw {
		return e.next.Encode(p)
	}
	buf := make([]byte, 0, len(raw)+len(ev)+len(p.Nsp)+32)
	buf = append(buf, byte(parser.EVENT)+'0')
	if p.Nsp != "" && p.Nsp != "/" {
		buf = append(buf, p.Nsp...)
		buf = append(buf, ',')
	}
	if p.Id != nil {
		buf = strconv.AppendUint(buf, *p.Id, 10)
	}
	buf = append(buf, '[')
	buf = appendString(buf, ev)
	buf = append(buf, ',')
	buf = append(buf, raw...)
	buf = append(buf, ']')
	return []types.BufferInterface{types.NewStringBuffer(buf)}
}
