package realtime

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/zishang520/socket.io/parsers/socket/v3/parser"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// engineLimit is the Engine.IO frame limit for a message limit of max:
// max(2×, +1 MiB): a margin above it, so that a message somewhat over --max-message-bytes
// still reaches sizedDecoder and gets its error ack, while a frame past
// the margin closes that connection (a hard bound on what one frame may
// make us buffer).
func engineLimit(limit int64) int64 { return limit + max(limit, 1<<20) }

// tooLarge replaces the payload of an event whose raw packet (text plus
// binary attachments) was over the message limit; the handlers refuse it
// with "too_large", keeping the event's ack.
type tooLarge struct{}

// sizedParser is rawParser with a decoder that measures each packet.
type sizedParser struct {
	rawParser
	limit    int64
	timeouts prometheus.Counter // connect gates that ran out
}

func (p sizedParser) NewDecoder() parser.Decoder {
	d := &sizedDecoder{EventEmitter: types.NewEventEmitter(), inner: p.rawParser.NewDecoder(), limit: p.limit,
		connectGate: connectGate{timeouts: p.timeouts}}
	_ = d.inner.On("decoded", d.decoded)
	return d
}

// sizedDecoder counts the raw bytes given to the library's decoder for the
// packet being decoded and, when a whole event was over the limit, drops
// its payload before re-emitting it. One per client; the library calls Add
// from one goroutine and the decoder emits "decoded" within Add.
//
// It also holds back what follows a CONNECT until the namespace socket is
// registered (connectGate, workaround_connectgate.go).
type sizedDecoder struct {
	types.EventEmitter // the client listens here
	inner              parser.Decoder
	limit              int64
	size               int64
	binaryPending      bool // a binary packet's attachments are being collected: no fast path
	connectGate
}

func (d *sizedDecoder) Add(data any) error {
	d.connectGate.hold()
	d.size += rawSize(data)
	if text, isText := textBytes(data); isText && !d.binaryPending {
		if p := fastUpdate(text); p != nil {
			d.decoded(p)
			return nil
		}
		if len(text) > 0 && (text[0] == '0'+byte(parser.BINARY_EVENT) || text[0] == '0'+byte(parser.BINARY_ACK)) {
			d.binaryPending = true // until that packet is decoded, or refused
		}
	}
	err := d.inner.Add(data)
	if err != nil {
		d.size = 0
		d.binaryPending = false
	}
	return err
}

func (d *sizedDecoder) decoded(args ...any) {
	p, _ := args[0].(*parser.Packet)
	if p != nil && (p.Type == parser.BINARY_EVENT || p.Type == parser.BINARY_ACK) {
		d.binaryPending = false
	}
	d.connectGate.mark(p)
	if p != nil && d.size > d.limit &&
		(p.Type == parser.EVENT || p.Type == parser.BINARY_EVENT) {
		var name any = ""
		if a, isSlice := p.Data.([]any); isSlice && len(a) > 0 {
			name = a[0]
		}
		p.Data = []any{name, tooLarge{}}
	}
	d.size = 0
	d.Emit("decoded", args...)
}

// Destroy is called when the connection closes: a reader held for a
// connect that will not happen goes on (and finds the connection closed).
func (d *sizedDecoder) Destroy() {
	d.connectGate.release()
	d.inner.Destroy()
}

// textBytes is a text packet's bytes (a string is copied once).
func textBytes(data any) ([]byte, bool) {
	switch v := data.(type) {
	case string:
		return []byte(v), true
	case *types.StringBuffer:
		return v.Bytes(), true
	}
	return nil, false
}

func rawSize(data any) int64 {
	switch v := data.(type) {
	case string:
		return int64(len(v))
	case []byte:
		return int64(len(v))
	case interface{ Len() int }: // *types.StringBuffer, *strings.Reader, other buffers
		return int64(v.Len())
	}
	return 0
}
