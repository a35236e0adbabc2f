package realtime

import (
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"time"

	ws "github.com/gorilla/websocket"
	"github.com/zishang520/socket.io/parsers/engine/v3/packet"
	"github.com/zishang520/socket.io/servers/engine/v3/transports"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// wsTransport is the library's websocket transport with its sending
// replaced; reading, events and state stay the library's. It exists for
// fan-out. Profiled with 500 members in a channel, the library spent as
// much per recipient as the write syscall itself: its engine socket's
// bookkeeping and events for each packet, a fresh encoding of the packet
// per socket (a growing copy) and a second copy through a 1 KB frame
// buffer (a message of 1-2 KB left as two frames, two syscalls). Here a
// room message is framed once, as a gorilla PreparedMessage that every
// recipient's connection writes as is (sharedFrame), and handed straight
// to each recipient's queue (sendFrame).
//
// The queue is the connection's one order. The engine socket buffers a
// packet only while its transport is not writable, so this transport
// stays writable: every packet the library sends reaches the queue before
// its send returns, and a frame queued after that is written after it.
// One goroutine per busy period drains the queue (an idle connection
// keeps none) and, after each batch the engine handed over, emits "drain",
// on which the engine runs that batch's send callbacks. A failed write
// emits "close" or "error" on the connection, as the library does, and
// drops the rest. Closing waits for the queue, at most closeGrace: the
// engine no longer holds packets back for its own close to wait on.
// gorilla serialises these writes with its own control frames.
type wsTransport struct {
	transports.Websocket
	conn *types.WebSocketConn

	mu      sync.Mutex
	queue   []wsOut
	running bool // a writer is draining the queue
	broken  bool // a write failed, or the connection closed: drop the rest
	closing func()
	// nc, when set, can write without blocking (wsNetConn): a room frame
	// finding the queue idle is written by its sender (writeInline).
	nc *wsNetConn

	// The Engine.IO heartbeat, when this transport runs it instead of the
	// engine (workaround_pingtimer.go): nil timer when it does not.
	hbTimer    *time.Timer
	hbInterval time.Duration
	hbAwaiting bool // a ping went out, its pong has not come
}

// wsOut is one queue entry: a batch from the engine, a shared frame, or
// one Engine.IO message already encoded (raw), with its binary attachment
// if it has one (written right after it, as its own binary message).
type wsOut struct {
	batch  []*packet.Packet
	frame  *sharedFrame
	raw    []byte
	attach []byte
}

// isBatch: o is the engine's (Send), whose "drain" the writer emits.
func (o wsOut) isBatch() bool { return o.frame == nil && o.raw == nil }

// closeGrace bounds how long a close waits for queued writes (a client
// that stopped reading would otherwise hold it for ever).
const closeGrace = 2 * time.Second

// wsTransportCtor builds wsTransports; the engine takes it in place of
// engine.WebSocket (Server's options).
type wsTransportCtor struct{ transports.WebSocketBuilder }

func (*wsTransportCtor) New(ctx *types.HttpContext) transports.Transport {
	inner := transports.MakeWebSocket()
	t := &wsTransport{Websocket: inner, conn: ctx.Websocket}
	t.nc, _ = ctx.Websocket.UnderlyingConn().(*wsNetConn)
	// Before anything is written: workaround_writebuf.go.
	useWriteBufferPool(ctx.Websocket.Conn)
	inner.Prototype(t) // the base transport's Close reaches DoClose through t
	inner.Construct(ctx)
	_ = ctx.Websocket.Once("close", func(...any) { t.stop() })
	return t
}

// Send implements transports.Transport: the engine's batch joins the
// queue, and the transport stays writable.
func (t *wsTransport) Send(packets []*packet.Packet) { t.push(wsOut{batch: packets}) }

// sendFrame queues a room message's shared frame; false when the
// connection is gone.
func (t *wsTransport) sendFrame(f *sharedFrame) bool { return t.push(wsOut{frame: f}) }

// sendRaw queues one Engine.IO message ("4" and a Socket.IO packet) that
// is written as it is, and the packet's one binary attachment (nil: none),
// written right after it from the caller's bytes, never copied: a
// document state (megabytes) is shared by all its joiners (statewire.go).
// attach must not change afterwards. false when the connection is gone.
func (t *wsTransport) sendRaw(msg, attach []byte) bool {
	return t.push(wsOut{raw: msg, attach: attach})
}

func (t *wsTransport) push(o wsOut) bool {
	t.mu.Lock()
	if t.broken || t.closing != nil {
		t.mu.Unlock()
		return false
	}
	if !t.running && t.nc != nil && o.frame != nil && !t.nc.busy() {
		t.running = true
		t.mu.Unlock()
		t.writeInline(o)
		return true
	}
	t.queue = append(t.queue, o)
	if t.running {
		t.mu.Unlock()
		return true
	}
	t.running = true
	t.mu.Unlock()
	go t.drain()
	return true
}

// writeInline writes o from the sender's goroutine, which then holds the
// writer's turn (running): the fan-out writes to 200 sockets were 200
// goroutine starts per update, each growing its stack on its first write
// (pprof, bench S1: newproc, newstack and scheduling together more than
// the write syscalls' own cost). The write cannot block (wsNetConn's try
// mode). Only room frames go this way, and only while the connection's
// socket is not full: a state (megabytes) or frames behind a full socket
// stay in the queue, shared, instead of being copied per connection. What
// others queued meanwhile goes to a writer goroutine, and so do a failed
// write's events and a pending close: the sender (a document's owner, a
// broker delivery) never runs the library's handlers.
func (t *wsTransport) writeInline(o wsOut) {
	t.nc.setTry(true)
	var err error
	if t.PerMessageDeflate() == nil {
		// The frame as it is, one write: gorilla's WriteMessage would copy
		// it into its buffer and take its lock and the deadline on the way
		// (pprof, bench S1: ~10% of server CPU). Its reader's control
		// frames (pong, close) are whole writes of their own, serialised
		// with this one by wsNetConn, and its own data frames come only
		// from this transport's writer, whose turn this is.
		_, err = t.nc.Write(o.frame.wire)
	} else {
		err = t.write(o)
	}
	t.nc.setTry(false)
	if err != nil {
		go t.fail(err)
	}
	t.mu.Lock()
	if len(t.queue) > 0 && !t.broken {
		t.mu.Unlock()
		go t.drain()
		return
	}
	t.queue, t.running = nil, false
	closing := t.closing
	t.mu.Unlock()
	if closing != nil {
		go closing()
	}
}

// drain writes the queue in order until it is empty.
func (t *wsTransport) drain() {
	for {
		t.mu.Lock()
		if len(t.queue) == 0 || t.broken {
			t.queue, t.running = nil, false
			closing := t.closing
			t.mu.Unlock()
			if closing != nil {
				closing()
			}
			return
		}
		o := t.queue[0]
		t.queue[0] = wsOut{}
		t.queue = t.queue[1:]
		t.mu.Unlock()
		err := t.write(o)
		if err != nil {
			t.fail(err)
		}
		if o.isBatch() {
			t.Emit("drain") // the engine's batch is done (its callbacks run), as the library's transport says
		}
	}
}

// write writes o; an error means the connection is unusable (fail).
func (t *wsTransport) write(o wsOut) error {
	var err error
	switch {
	case o.frame != nil && t.PerMessageDeflate() == nil:
		// Without permessage-deflate (never negotiated then) a plain write
		// copies the frame into the connection's own buffer; a prepared
		// message would allocate two 4 KB frame buffers per room message
		// and take its shared lock once per recipient (pprof, S1 and S2).
		t.conn.EnableWriteCompression(false)
		err = t.conn.WriteMessage(ws.TextMessage, o.frame.msg)
	case o.frame != nil:
		err = t.conn.WritePreparedMessage(o.frame.prepared())
	case o.raw != nil:
		t.conn.EnableWriteCompression(t.PerMessageDeflate() == nil || len(o.raw) >= t.PerMessageDeflate().Threshold)
		err = t.conn.WriteMessage(ws.TextMessage, o.raw)
		if err == nil && o.attach != nil {
			// Uncompressed, gorilla writes the bytes as they are (one
			// writev with the frame header), without copying them.
			t.conn.EnableWriteCompression(false)
			err = t.conn.WriteMessage(ws.BinaryMessage, o.attach)
		}
	default:
		for _, p := range o.batch {
			if err = t.writePacket(p); err != nil {
				break
			}
		}
	}
	return err
}

// fail drops the rest after a failed write and tells the library, as its
// own transport does.
func (t *wsTransport) fail(err error) {
	t.stop()
	if ws.IsUnexpectedCloseError(err) || errors.Is(err, net.ErrClosed) {
		t.conn.Emit("close")
	} else {
		t.conn.Emit("error", err)
	}
}

// writePacket sends one engine packet as one websocket message, as the
// library's transport does but in a single frame whatever its size.
func (t *wsTransport) writePacket(p *packet.Packet) error {
	data, err := t.Parser().EncodePacket(p, t.SupportsBinary())
	if err != nil {
		return err
	}
	compress := p.Options == nil || p.Options.Compress == nil || *p.Options.Compress
	if d := t.PerMessageDeflate(); d != nil && data.Len() < d.Threshold {
		compress = false
	}
	t.conn.EnableWriteCompression(compress)
	mt := ws.BinaryMessage
	if _, isText := data.(*types.StringBuffer); isText {
		mt = ws.TextMessage
	}
	return t.conn.WriteMessage(mt, data.Bytes())
}

// DoClose implements transports.Transport (the base transport's Close
// calls it once): the library's close, once the queue is written or
// closeGrace has passed.
func (t *wsTransport) DoClose(fn types.Callable) {
	var once sync.Once
	closeNow := func() { once.Do(func() { t.Websocket.DoClose(fn) }) }
	t.mu.Lock()
	t.stopHeartbeatLocked()
	if !t.running || t.broken {
		t.broken = true
		t.mu.Unlock()
		closeNow()
		return
	}
	t.closing = closeNow
	t.mu.Unlock()
	time.AfterFunc(closeGrace, func() {
		t.stop()
		closeNow() // unblocks a write stuck on a client that stopped reading
	})
}

// stop drops what is queued: the connection is gone.
func (t *wsTransport) stop() {
	t.mu.Lock()
	t.broken, t.queue = true, nil
	t.stopHeartbeatLocked()
	t.mu.Unlock()
}

// sharedFrame is an Engine.IO message ("4" and a Socket.IO packet),
// prepared once as a websocket frame that every recipient of a room
// message writes when compression is on (sync.Once: the first writer
// builds it, none when the room turned out to be empty); without
// compression each connection writes msg itself, or wire as it is.
type sharedFrame struct {
	wire []byte // msg as one uncompressed websocket frame from the server
	msg  []byte // wire's payload
	once sync.Once
	pm   *ws.PreparedMessage
}

func newSharedFrame(pkt []byte) *sharedFrame {
	n := len(pkt) + 1
	// RFC 6455 5.2: final text frame, unmasked (server to client), the
	// length in 7, 7+16 or 7+64 bits.
	hdr := 2
	switch {
	case n > 0xffff:
		hdr = 10
	case n > 125:
		hdr = 4
	}
	wire := make([]byte, hdr, hdr+n)
	wire[0] = 0x80 | ws.TextMessage
	switch hdr {
	case 2:
		wire[1] = byte(n)
	case 4:
		wire[1] = 126
		binary.BigEndian.PutUint16(wire[2:], uint16(n))
	default:
		wire[1] = 127
		binary.BigEndian.PutUint64(wire[2:], uint64(n))
	}
	wire = append(append(wire, '4'), pkt...) // 4: Engine.IO's message packet type
	return &sharedFrame{wire: wire, msg: wire[hdr:]}
}

func (f *sharedFrame) prepared() *ws.PreparedMessage {
	f.once.Do(func() {
		// Cannot fail for a text message.
		f.pm, _ = ws.NewPreparedMessage(ws.TextMessage, f.msg)
	})
	return f.pm
}
