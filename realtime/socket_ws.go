package realtime

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"
)

// Quire's own Engine.IO v4 + Socket.IO v5 server for websocket
// connections (default namespace only), in place of zishang520/socket.io,
// which stays for polling (socket_library.go). Measured per idle
// connection, the library's engine and socket objects (five emitters with
// their sync.Maps, the request context, per-socket maps and room sets)
// were ~8 KB of heap, gorilla's Conn and read buffer ~1.5 KB and the read
// goroutine's stack 4 KB (docs/design.md, "Idle connections"). Here a
// connection is one wsSocket, its frame parser holds no buffer between
// messages, and the wire is the library's: the upgrade at Config.Path, the
// OPEN packet, the heartbeat, CONNECT and its reply, events, acks, binary
// attachments both ways, the message size limits, and the close reasons.

// connectTimeout closes a connection that never connects to a namespace
// (the library's default connectTimeout).
const connectTimeout = 45 * time.Second

// closeGrace bounds how long a close waits for queued writes (a client
// that stopped reading would otherwise hold it for ever).
const closeGrace = 2 * time.Second

// closeReplyWait bounds how long a connection closed with a close frame
// waits for the client's side to end (its close reply, then its FIN)
// before it is closed anyway; within closeGrace of the close.
const closeReplyWait = time.Second

// inlineMax: a queued message up to this size may be written by its sender
// when the connection is idle (wsNetConn's try mode keeps any rest); a
// larger one (a state) is written by a writer goroutine from the caller's
// bytes, never copied.
const inlineMax = 16 << 10

// engineErr is an Engine.IO handshake error: the library's codes.
func engineErr(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	_, _ = w.Write([]byte(`{"code":` + strconv.Itoa(code) + `,"message":` + strconv.Quote(msg) + `}`))
}

// wsAcceptKey is Sec-WebSocket-Accept for key (RFC 6455 4.2.2).
func wsAcceptKey(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// newID is a random 20-character id (Engine.IO and Socket.IO session ids).
func newID() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// originAllowed applies Config.CORSOrigins to a websocket upgrade: none
// configured or "*" lets any origin in; otherwise a browser's Origin must
// be listed (a request without one is not a browser's).
func (s *Server) originAllowed(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" || len(s.cfg.CORSOrigins) == 0 {
		return true
	}
	return slices.Contains(s.cfg.CORSOrigins, "*") || slices.Contains(s.cfg.CORSOrigins, o)
}

// serveWebSocket answers an Engine.IO request at Config.Path in websocket
// mode: the upgrade, or the library's error for anything else.
func (s *Server) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	switch {
	case q.Get("transport") != "websocket":
		engineErr(w, 0, "Transport unknown")
		return
	case q.Get("EIO") != "4":
		engineErr(w, 5, "Unsupported protocol version")
		return
	case q.Get("sid") != "":
		engineErr(w, 1, "Session ID unknown")
		return
	case r.Method != http.MethodGet || !isWebSocketUpgrade(r) || r.Header.Get("Sec-Websocket-Version") != "13" || r.Header.Get("Sec-Websocket-Key") == "":
		engineErr(w, 3, "Bad request")
		return
	case !s.originAllowed(r):
		w.WriteHeader(http.StatusForbidden)
		return
	}
	h, ok := w.(http.Hijacker)
	if !ok {
		engineErr(w, 3, "Bad request")
		return
	}
	tcp, brw, err := h.Hijack()
	if err != nil {
		return
	}
	_ = tcp.SetDeadline(time.Time{}) // the HTTP server's read and write timeouts end here
	// What the client sent after its request (frames in a hurry) is
	// still in net/http's reader: parse it first, then drop that reader.
	var early []byte
	if n := brw.Reader.Buffered(); n > 0 {
		early, _ = brw.Reader.Peek(n)
		early = bytes.Clone(early)
	}
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
		wsAcceptKey(r.Header.Get("Sec-Websocket-Key")) + "\r\n\r\n"
	if _, err := tcp.Write([]byte(resp)); err != nil {
		_ = tcp.Close()
		return
	}
	ws := newWSSocket(s, tcp)
	if !s.addWS(ws) {
		ws.closeNow()
		return
	}
	ws.open()
	p := sharedPoller()
	if p == nil {
		go ws.readLoop(early)
		return
	}
	// What came with the upgrade is parsed here, before the poller can
	// hand the connection to another goroutine.
	if len(early) > 0 {
		if err := ws.parser.feed(early, ws); err != nil {
			ws.fail(err)
			return
		}
	}
	if !p.add(ws) {
		go ws.readLoop(nil)
	}
}

// rearm asks the poller for the connection's next readiness.
func (ws *wsSocket) rearm() error { return sharedPoller().rearm(ws) }

// addWS registers ws for Stop; false once stopping.
func (s *Server) addWS(ws *wsSocket) bool {
	s.wsMu.Lock()
	defer s.wsMu.Unlock()
	if s.wsStopped {
		return false
	}
	if s.wsConns == nil {
		s.wsConns = make(map[*wsSocket]struct{})
	}
	s.wsConns[ws] = struct{}{}
	return true
}

func (s *Server) removeWS(ws *wsSocket) {
	s.wsMu.Lock()
	delete(s.wsConns, ws)
	s.wsMu.Unlock()
}

// closeAllWS closes every websocket connection at once, none waiting for
// another (issue 13 item 6: the library closed 20,000 one after another,
// past the shutdown timeout), each with what was queued for it and then
// the close frame 1001 "going away": without it clients saw 1006, an
// abnormal closure. It returns once every connection is closed, which
// closeGrace bounds, or when ctx ends: the process may exit next, and
// what a connection still had to write would be lost.
func (s *Server) closeAllWS(ctx context.Context) {
	s.wsMu.Lock()
	s.wsStopped = true
	all := make([]*wsSocket, 0, len(s.wsConns))
	for ws := range s.wsConns {
		all = append(all, ws)
	}
	s.wsMu.Unlock()
	bye := wsCloseFrame(wsCloseGoingAway, "server shutting down")
	for _, ws := range all {
		s.wsClosing.Add(1)
		if !ws.closeWith(bye, true, "server shutting down", nil) {
			s.wsClosing.Add(-1) // closed already, or closing for another reason
		}
	}
	for s.wsClosing.Load() > 0 && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
}

// wsSocket is one websocket connection: its Engine.IO session and the
// Socket.IO socket of the default namespace on it. It is a socketConn.
type wsSocket struct {
	srv *Server
	tcp net.Conn   // the hijacked connection: reads, and Close
	nc  net.Conn   // writes: a *wsNetConn when the socket allows it
	wnc *wsNetConn // nc when it is one: writes that never block
	// Read through the poller (epoll_linux.go) when pollID is not 0:
	// raw is the connection's fd access.
	raw    syscall.RawConn // nil without raw access
	pollID atomic.Uint64
	failed atomic.Bool // fail ran (the reader, or wsSkipping's timer)
	fd     int32       // the connection's descriptor for batched sends; -1: none

	// reader-owned (readMu: see readOnce)
	readMu    sync.Mutex
	parser    wsParser
	c         *conn      // once the namespace connected
	bin       *binPacket // a binary packet waiting for its attachments
	connTimer *time.Timer

	mu      sync.Mutex
	queue   []wsItem
	running bool // a writer holds the turn
	broken  bool // closed, or a write failed: nothing more is written
	ending  bool // close requested: the writer closes once the queue is written
	// lingering: the queue ends with a close frame; the client's side is
	// awaited before the connection closes (linger).
	lingering bool
	// awaited: Stop waits for this connection to close (Server.wsClosing).
	awaited bool
	// inBatch: the turn is a batched fan-out's (wsBatch), which sends on
	// fd: it must stay open, so hardClose leaves the close to endInline.
	inBatch bool
	acks    map[uint64]func([]any)
	nextAck uint64
	// From the CONNECT until the socket has authenticated and joined its
	// rooms (accept), the reply and every Socket.IO packet after it wait
	// in held: a client that sees "connect" is in its rooms, as with
	// Open WebUI, which authenticates before it answers. Not nil only
	// while holding (one pointer: an idle socket's size class); set,
	// changed and cleared under mu, and once cleared it stays so.
	held atomic.Pointer[[]wsItem]
	// The Engine.IO heartbeat: a ping every interval; the pong must come
	// within the timeout.
	hbTimer    *time.Timer
	hbAwaiting bool
	// closeTimer runs hardClose at the close's bound (wsCloseBound); it is
	// stopped once the connection closed without it (closeDone).
	closeTimer *time.Timer
	// awaitingReply: the close frame is written, and the poller reads
	// only to drop the client's reply until it ends (awaitClose);
	// replyTimer ends that wait at closeReplyWait, if endLinger has not
	// run (lingerEnded).
	awaitingReply atomic.Bool
	replyTimer    *time.Timer
	lingerEnded   bool

	closeOnce sync.Once
	reason    string // why it closed (set once, in close)
	reasonErr error
}

// wsItem is one queued write: wire bytes as they are, then (attach) a
// binary message's payload, framed at write time and never copied.
type wsItem struct {
	wire   []byte
	attach []byte
	hasAtt bool
	shared bool // a room frame: written inline whatever its size
}

func (it wsItem) size() int { return len(it.wire) + len(it.attach) }

// binPacket is a BINARY_EVENT or BINARY_ACK collecting its attachments.
type binPacket struct {
	pkt  sioPacket
	want int
	got  [][]byte
	size int64
}

func newWSSocket(s *Server, tcp net.Conn) *wsSocket {
	ws := &wsSocket{srv: s, tcp: tcp, nc: tcp, fd: -1}
	ws.parser.limit = engineLimit(s.cfg.MaxMessageBytes)
	if w, ok := newWSNetConn(tcp, tcp, s.met.socketFull).(*wsNetConn); ok {
		w.failed = ws.writeFailed
		ws.nc, ws.wnc = w, w
	}
	if sc, ok := tcp.(syscall.Conn); ok {
		ws.raw, _ = sc.SyscallConn()
	}
	if ws.raw != nil && ws.wnc != nil {
		_ = ws.raw.Control(func(fd uintptr) { ws.fd = int32(fd) })
	}
	return ws
}

// open sends the Engine.IO OPEN packet and starts the heartbeat.
func (ws *wsSocket) open() {
	cfg := ws.srv.cfg
	openPkt := `0{"sid":` + strconv.Quote(newID()) + `,"upgrades":[],"pingInterval":` +
		strconv.FormatInt(cfg.PingInterval.Milliseconds(), 10) + `,"pingTimeout":` +
		strconv.FormatInt(cfg.PingTimeout.Milliseconds(), 10) + `,"maxPayload":` +
		strconv.FormatInt(engineLimit(cfg.MaxMessageBytes), 10) + `}`
	ws.mu.Lock()
	if !ws.ending { // Stop may close it while it opens
		ws.hbTimer = time.AfterFunc(cfg.PingInterval, ws.heartbeat)
		ws.connTimer = time.AfterFunc(connectTimeout, func() { ws.close("connect timeout", nil) })
	}
	ws.mu.Unlock()
	ws.push(wsItem{wire: wsFrame(wsText, []byte(openPkt))})
}

// heartbeat: a ping is due, or the pong to the last one is late.
func (ws *wsSocket) heartbeat() {
	ws.mu.Lock()
	if ws.hbTimer == nil || ws.broken || ws.ending {
		ws.mu.Unlock()
		return
	}
	if ws.hbAwaiting {
		ws.hbTimer = nil
		ws.mu.Unlock()
		ws.close("ping timeout", nil)
		return
	}
	ws.hbAwaiting = true
	ws.hbTimer.Reset(ws.srv.cfg.PingTimeout)
	ws.mu.Unlock()
	ws.push(wsItem{wire: pingFrame})
}

var pingFrame = wsFrame(wsText, []byte("2"))

// pong: the next ping is pingInterval from now.
func (ws *wsSocket) pong() {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.hbTimer != nil && ws.hbAwaiting {
		ws.hbAwaiting = false
		ws.hbTimer.Reset(ws.srv.cfg.PingInterval)
	}
}

// readLoop reads the connection until it ends; early is what came with
// the upgrade request.
func (ws *wsSocket) readLoop(early []byte) {
	if len(early) > 0 {
		if err := ws.parser.feed(early, ws); err != nil {
			ws.fail(err)
			return
		}
	}
	buf := make([]byte, 2048)
	for {
		n, err := ws.tcp.Read(buf)
		if n > 0 {
			if perr := ws.parser.feed(buf[:n], ws); perr != nil {
				ws.fail(perr)
				return
			}
		}
		if err != nil {
			ws.close("transport close", nil)
			return
		}
	}
}

// errClosing: the Engine.IO layer ended the connection (already closed).
var errClosing = errors.New("closing")

// fail ends the connection after a reader error: a websocket violation
// gets its close code, a bad Engine.IO or Socket.IO packet "parse error".
func (ws *wsSocket) fail(err error) {
	if errors.Is(err, errClosing) || !ws.failed.CompareAndSwap(false, true) {
		return // or the reader and wsSkipping's timer both got here
	}
	var we *wsError
	if errors.As(err, &we) {
		ws.closeWith(wsCloseFrame(we.code, ""), false, "transport error", err)
		return
	}
	ws.close("parse error", err)
}

// wsSkipping implements wsHandler: the frame past the limit fails the
// connection once read (wsSkipFactor), or closeGrace from now if its
// payload is slower to come.
func (ws *wsSocket) wsSkipping(err error) {
	time.AfterFunc(closeGrace, func() { ws.fail(err) })
}

// wsControl implements wsHandler.
func (ws *wsSocket) wsControl(op byte, data []byte) error {
	switch op {
	case wsPing:
		ws.push(wsItem{wire: wsFrame(wsPong, data)})
	case wsClose:
		if err := checkClosePayload(data); err != nil {
			return err
		}
		ws.closeWith(wsCloseFrame(wsCloseNormal, ""), false, "transport close", nil)
		return errClosing
	}
	return nil
}

// checkClosePayload checks a client's close frame (RFC 6455 5.5.1, 7.4):
// empty, or a code a peer may send and a UTF-8 reason.
func checkClosePayload(data []byte) error {
	switch {
	case len(data) == 0:
		return nil
	case len(data) == 1:
		return wsProtocolError("close frame of one byte")
	}
	code := int(data[0])<<8 | int(data[1])
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014, code >= 3000 && code <= 4999:
	default: // 1004-1006 and 1015 are never sent; the rest is unassigned
		return wsProtocolError("close code %d", code)
	}
	if !utf8.Valid(data[2:]) {
		return &wsError{code: wsCloseInvalidData, msg: "invalid UTF-8 in a close reason"}
	}
	return nil
}

// wsMessage implements wsHandler: one Engine.IO packet, or an attachment.
func (ws *wsSocket) wsMessage(op byte, data []byte) error {
	if op == wsBinary {
		return ws.attachment(data)
	}
	if len(data) == 0 {
		return errors.New("empty Engine.IO packet")
	}
	switch data[0] {
	case '3': // pong
		ws.pong()
	case '4':
		return ws.socketIO(data[1:])
	case '6': // noop
	case '1':
		ws.close("transport close", nil)
		return errClosing
	default:
		return errors.New("unexpected Engine.IO packet")
	}
	return nil
}

// attachment takes a binary message: the next attachment of the pending
// binary packet.
func (ws *wsSocket) attachment(data []byte) error {
	b := ws.bin
	if b == nil {
		return errors.New("binary message without a binary packet")
	}
	b.size += int64(len(data))
	if limit := ws.parser.limit; b.size > limit {
		// The packet's bound, as one frame's: up to maxAttachments
		// attachments of up to limit each must not all be kept.
		return &wsError{code: wsCloseTooBig, msg: fmt.Sprintf("packet over %d bytes", limit)}
	}
	b.got = append(b.got, data)
	if len(b.got) < b.want {
		return nil
	}
	ws.bin = nil
	p := b.pkt
	if err := p.fill(b.got); err != nil {
		return err
	}
	return ws.dispatch(p, b.size)
}

// socketIO decodes one Socket.IO packet.
func (ws *wsSocket) socketIO(text []byte) error {
	if ws.bin != nil {
		return errors.New("text packet while attachments were expected")
	}
	if p := fastUpdate(text); p != nil {
		return ws.dispatch(sioPacket{typ: sioEvent, nsp: "/", id: p.Id, name: evDocUpdate, args: p.Data.([]any)[1:]}, int64(len(text)))
	}
	p, err := decodeSIO(text)
	if err != nil {
		return err
	}
	if p.attachments > 0 {
		ws.bin = &binPacket{pkt: p, want: p.attachments, size: int64(len(text))}
		return nil
	}
	return ws.dispatch(p, int64(len(text)))
}

// dispatch acts on a whole packet of size bytes (text and attachments).
func (ws *wsSocket) dispatch(p sioPacket, size int64) error {
	if p.nsp != "/" {
		if p.typ == sioConnect {
			ws.push(wsItem{wire: wsFrame(wsText, []byte("44"+p.nsp+`,{"message":"Invalid namespace"}`))})
			return nil
		}
		return errors.New("packet for a namespace not connected")
	}
	if ws.c == nil {
		if p.typ != sioConnect {
			return errors.New("packet before CONNECT")
		}
		ws.connect(p)
		return nil
	}
	c := ws.c
	switch p.typ {
	case sioEvent, sioBinaryEvent:
		var payload any
		if len(p.args) > 0 {
			payload = p.args[0]
		}
		if size > ws.srv.cfg.MaxMessageBytes {
			payload = tooLarge{}
		}
		var ack ackFunc
		if p.id != nil {
			id := *p.id
			ack = func(args []any) { ws.sendAck(id, args) }
		}
		c.onEvent(p.name, payload, ack)
	case sioAck, sioBinaryAck:
		if p.id == nil {
			return errors.New("ack without an id")
		}
		ws.mu.Lock()
		f := ws.acks[*p.id]
		delete(ws.acks, *p.id)
		ws.mu.Unlock()
		if f != nil {
			f(p.args)
		}
	case sioDisconnect:
		ws.close("client namespace disconnect", nil)
		return errClosing
	default:
		return errors.New("unexpected Socket.IO packet")
	}
	return nil
}

// connect makes the socket's conn for a CONNECT to "/"; the reply waits
// for its authentication (accept).
func (ws *wsSocket) connect(p sioPacket) {
	sid := newID()
	token := ""
	if a, ok := asFields(p.auth); ok {
		token, _ = a.str("token")
	}
	held := []wsItem{{wire: wsFrame(wsText, []byte(`40{"sid":"`+sid+`"}`))}}
	ws.mu.Lock()
	if ws.connTimer != nil {
		ws.connTimer.Stop()
	}
	ws.held.Store(&held)
	ws.mu.Unlock()
	c := ws.srv.newConn(sid, ws)
	// Registered (start) before the socket knows it: a close from then on
	// either finds it and cleans it up, or came first, and then it is
	// cleaned up here. Started after, a close in between had nothing to
	// clean up, and start left the conn in Server.conns for good.
	c.start(token)
	if hook, found := wsConnecting.Load(ws.srv); found {
		hook.(func(*wsSocket))(ws)
	}
	ws.mu.Lock()
	closed := ws.broken || ws.ending
	if !closed {
		ws.c = c
	}
	ws.mu.Unlock()
	if closed {
		c.disconnected()
	}
}

// wsConnecting, when set for a Server (tests only), runs inside connect
// between the conn's start and the socket taking it (a test's window for
// a racing close).
var wsConnecting sync.Map // *Server → func(*wsSocket)

// emit implements socketConn.
func (ws *wsSocket) emit(event string, payload any, ack func(args []any)) error {
	var raw []byte
	switch v := payload.(type) {
	case preEncoded:
		raw = v
	case json.RawMessage:
		raw = v
	default:
		b, err := json.Marshal(payload)
		if err != nil {
			return err
		}
		raw = b
	}
	msg := make([]byte, 0, len(raw)+len(event)+32)
	msg = append(msg, '4', '2')
	if ack != nil {
		ws.mu.Lock()
		if ws.broken || ws.ending {
			ws.mu.Unlock()
			return net.ErrClosed
		}
		id := ws.nextAck
		ws.nextAck++
		if ws.acks == nil {
			ws.acks = make(map[uint64]func([]any), 1)
		}
		ws.acks[id] = ack
		ws.mu.Unlock()
		msg = strconv.AppendUint(msg, id, 10)
	}
	msg = append(msg, '[')
	msg = appendString(msg, event)
	msg = append(msg, ',')
	msg = append(msg, raw...)
	msg = append(msg, ']')
	if !ws.send(wsItem{wire: wsFrame(wsText, msg)}) {
		return net.ErrClosed
	}
	return nil
}

// sendAck answers an event's ack: 3<id>[args…].
func (ws *wsSocket) sendAck(id uint64, args []any) {
	b, err := json.Marshal(args)
	if err != nil {
		ws.srv.log.Error("ack not encodable", "socket", ws.sid(), "err", err)
		return
	}
	msg := strconv.AppendUint([]byte("43"), id, 10)
	ws.send(wsItem{wire: wsFrame(wsText, msg, b)})
}

func (ws *wsSocket) sid() string {
	if ws.c != nil {
		return ws.c.sid
	}
	return ""
}

// sendFrame implements socketConn.
func (ws *wsSocket) sendFrame(f *sharedFrame, _ []byte) { ws.send(wsItem{wire: f.wire, shared: true}) }

// sendState implements socketConn.
func (ws *wsSocket) sendState(pkt, attach []byte) {
	it := wsItem{wire: wsFrame(wsText, []byte{'4'}, pkt)}
	if attach != nil {
		it.attach, it.hasAtt = attach, true
	}
	ws.send(it)
}

// disconnect implements socketConn: DISCONNECT, then the close. A socket
// still authenticating gets its CONNECT reply first, so the client knows
// the server ended it (and does not reconnect), but nothing held behind
// the reply: what its rooms sent meanwhile is not for it (a token revoked
// between adopt's two checks).
func (ws *wsSocket) disconnect() {
	bye := wsItem{wire: wsFrame(wsText, []byte("41"))}
	ws.mu.Lock()
	h := ws.held.Load()
	if h != nil { // (*h)[0] is the reply (connect); "41" follows it at once
		clear((*h)[1:])
		*h = append((*h)[:1], bye)
	}
	start := ws.acceptLocked() // nothing without h
	ws.mu.Unlock()
	if start {
		go ws.drain()
	}
	if h == nil {
		ws.push(bye)
	}
	ws.close("server namespace disconnect", nil)
}

// accept implements socketConn: the held CONNECT reply and the packets
// held behind it join the write queue at once, in order, and holding ends.
func (ws *wsSocket) accept() {
	ws.mu.Lock()
	start := ws.acceptLocked()
	ws.mu.Unlock()
	if start {
		go ws.drain()
	}
}

// acceptLocked is accept under ws.mu; true when the caller must start the
// writer.
func (ws *wsSocket) acceptLocked() bool {
	h := ws.held.Load()
	if h == nil {
		return false
	}
	ws.held.Store(nil)
	if ws.broken || ws.ending {
		return false
	}
	ws.queue = append(ws.queue, *h...)
	start := !ws.running
	ws.running = true
	return start
}

// send queues a Socket.IO packet: held while the CONNECT reply is
// (accept), else pushed.
func (ws *wsSocket) send(it wsItem) bool {
	if ws.held.Load() != nil {
		ws.mu.Lock()
		if h := ws.held.Load(); h != nil {
			ok := !ws.broken && !ws.ending
			if ok {
				*h = append(*h, it)
			}
			ws.mu.Unlock()
			return ok
		}
		ws.mu.Unlock()
	}
	return ws.push(it)
}

// push queues it; false when the connection is closed or closing. A
// message finding the connection idle is written by the caller, without
// blocking (wsNetConn's try mode): the fan-out writes each recipient's
// frame from its own goroutine instead of starting one per recipient.
func (ws *wsSocket) push(it wsItem) bool {
	ws.mu.Lock()
	if ws.broken || ws.ending {
		ws.mu.Unlock()
		return false
	}
	if !ws.running && ws.wnc != nil && (it.shared || it.size() <= inlineMax) && !ws.wnc.busy() {
		ws.running = true
		ws.mu.Unlock()
		ws.writeInline(it)
		return true
	}
	ws.queue = append(ws.queue, it)
	if ws.running {
		ws.mu.Unlock()
		return true
	}
	ws.running = true
	ws.mu.Unlock()
	go ws.drain()
	return true
}

// claimInline takes the writer's turn for a room frame when the connection
// is idle, as push does for an inline write, and marks it a batch's
// (wsBatch); false: send the frame as push would.
func (ws *wsSocket) claimInline() bool {
	if ws.wnc == nil || ws.held.Load() != nil {
		return false
	}
	ws.mu.Lock()
	ok := !ws.running && !ws.broken && !ws.ending && ws.held.Load() == nil && ws.wnc.idleOpen()
	if ok {
		ws.running, ws.inBatch = true, true
	}
	ws.mu.Unlock()
	return ok
}

// writeInline writes it with the writer's turn the caller took, without
// blocking (wsNetConn keeps any rest), then ends the turn.
func (ws *wsSocket) writeInline(it wsItem) {
	ws.wnc.setTry(true)
	err := ws.write(it)
	ws.wnc.setTry(false)
	if err != nil {
		go ws.writeFailed(err)
	}
	ws.endInline()
}

// endInline ends an inline write's turn: a writer takes over what was
// queued meanwhile, or a close waiting for the turn goes on.
func (ws *wsSocket) endInline() {
	ws.mu.Lock()
	closeTCP := ws.inBatch && ws.broken // hardClose ran during the batch
	ws.inBatch = false
	if len(ws.queue) > 0 && !ws.broken {
		ws.mu.Unlock()
		go ws.drain()
		return
	}
	ws.running = false
	ending := ws.ending && !ws.broken
	ws.mu.Unlock()
	if closeTCP {
		_ = ws.tcp.Close()
	}
	if ending {
		go ws.finish()
	}
}

// drain writes the queue in order until it is empty, then closes the
// connection if a close waits for it.
func (ws *wsSocket) drain() {
	for {
		ws.mu.Lock()
		if len(ws.queue) == 0 || ws.broken {
			ws.queue, ws.running = nil, false
			ending := ws.ending && !ws.broken
			ws.mu.Unlock()
			if ending {
				ws.finish()
			}
			return
		}
		it := ws.queue[0]
		ws.queue[0] = wsItem{}
		ws.queue = ws.queue[1:]
		ws.mu.Unlock()
		if err := ws.write(it); err != nil {
			ws.writeFailed(err)
		}
	}
}

func (ws *wsSocket) write(it wsItem) error {
	if _, err := ws.nc.Write(it.wire); err != nil {
		return err
	}
	if it.hasAtt {
		if _, err := ws.nc.Write(wsFrameHeader(nil, wsBinary, len(it.attach))); err != nil {
			return err
		}
		if _, err := ws.nc.Write(it.attach); err != nil {
			return err
		}
	}
	return nil
}

func (ws *wsSocket) writeFailed(err error) {
	ws.close("transport error", err)
}

// close ends the connection once, for reason: what is queued is written
// first (at most closeGrace, wsNetConn.Close), then the socket is closed
// and its conn cleaned up. It never waits.
func (ws *wsSocket) close(reason string, err error) { ws.closeWith(nil, false, reason, err) }

// closeWith is close with a close frame (nil: none) written after what is
// queued, and nothing after it, then the client's side awaited (linger),
// all within closeGrace; awaited: Stop counts it in Server.wsClosing.
// False if the connection closed or failed before: no frame is sent.
func (ws *wsSocket) closeWith(frame []byte, awaited bool, reason string, err error) bool {
	sent := false
	ws.closeOnce.Do(func() {
		ws.mu.Lock()
		ws.reason, ws.reasonErr = reason, err
		ws.ending = true
		if ws.hbTimer != nil {
			ws.hbTimer.Stop()
			ws.hbTimer = nil
		}
		idle := !ws.running
		if idle {
			ws.running = true // no writer may start now
		}
		if frame != nil && !ws.broken {
			// Queued under mu with ending set: it goes out after every
			// frame queued before, and no frame can follow it.
			ws.queue = append(ws.queue, wsItem{wire: frame})
			ws.lingering, ws.awaited, sent = true, awaited, true
		}
		if !idle || sent {
			// The writer closes it once the queue is written; a client
			// that stopped reading must not hold it longer than this.
			// Set under mu with ending: the writer that closes it sees it.
			ws.closeTimer = ws.srv.afterCloseBound(ws.hardClose)
		}
		c := ws.c
		ws.acks = nil
		if ws.connTimer != nil {
			ws.connTimer.Stop()
		}
		ws.mu.Unlock()
		// Before the writer may start: once it has written the close
		// frame, the poller reads ws again under a new id (awaitClose),
		// which this must not remove.
		if id := ws.pollID.Load(); id != 0 {
			sharedPoller().remove(id)
		}
		switch {
		case idle && sent:
			go ws.drain()
		case idle:
			ws.finish()
		}
		ws.srv.removeWS(ws)
		if c != nil {
			c.logClose("socket", reason, err)
			c.disconnected()
		}
	})
	return sent
}

// closing reports whether close (or closeNow) ran.
func (ws *wsSocket) closing() bool {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	return ws.ending || ws.broken
}

// finish closes the connection (the queue is written, or given up).
func (ws *wsSocket) finish() {
	ws.mu.Lock()
	ws.broken, ws.queue = true, nil
	linger := ws.lingering
	ws.mu.Unlock()
	if linger {
		ws.linger()
		return
	}
	// With a rest still being written, Close leaves the close to the
	// flush, and hardClose stays the bound.
	flushing := ws.wnc != nil && ws.wnc.busy()
	_ = ws.nc.Close()
	if !flushing {
		ws.closeDone()
	}
}

// afterCloseBound runs f once the close's bound (wsCloseBound) passed,
// unless stopCloseTimer stops it first.
func (s *Server) afterCloseBound(f func()) *time.Timer {
	s.wsCloseTimers.Add(1)
	return time.AfterFunc(s.wsCloseBound, func() {
		s.wsCloseTimers.Add(-1)
		f()
	})
}

func (s *Server) stopCloseTimer(t *time.Timer) {
	if t.Stop() {
		s.wsCloseTimers.Add(-1)
	}
}

// closeDone: the connection closed, hardClose's timer is not needed (with
// many sockets closing, each would keep its socket until the bound). A
// hardClose already running finds the connection closed: closing it again
// does nothing, and closed() counts it for Stop once.
func (ws *wsSocket) closeDone() {
	ws.mu.Lock()
	t := ws.closeTimer
	ws.closeTimer = nil
	ws.mu.Unlock()
	if t != nil {
		ws.srv.stopCloseTimer(t)
	}
}

// linger ends a connection whose close frame is written: its sending side
// at once (a FIN after the frame), the rest once the client ended its side
// or closeReplyWait passed, what it sent meanwhile (its close reply) read
// and dropped. Closed with that unread, the kernel would answer with a
// reset, and a reset may discard the close frame before the client reads
// it (it then sees 1006). The poller waits for the reply (awaitClose):
// a goroutine each, blocked in a read for up to closeReplyWait, was 20,000
// at once when Stop closed 20,000 sockets. A connection the poller does not
// read (it has a reader goroutine) waits here, on the writer's goroutine.
// hardClose, at closeGrace from the close, ends a wait still going on.
func (ws *wsSocket) linger() {
	if cw, ok := ws.tcp.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
		if sharedPoller().awaitClose(ws) {
			return
		}
		_ = ws.tcp.SetReadDeadline(time.Now().Add(closeReplyWait))
		var buf [512]byte
		for {
			if _, err := ws.tcp.Read(buf[:]); err != nil {
				break
			}
		}
	}
	ws.endLinger()
}

// endLinger closes a lingering connection. Through the poller it may run
// twice (the client's end, and the wait's timer): the second changes
// nothing.
func (ws *wsSocket) endLinger() {
	ws.mu.Lock()
	ws.lingerEnded = true
	t := ws.replyTimer
	ws.replyTimer = nil
	ws.mu.Unlock()
	if t != nil {
		t.Stop()
	}
	if id := ws.pollID.Load(); id != 0 {
		sharedPoller().remove(id)
	}
	_ = ws.tcp.Close()
	ws.closeDone()
	ws.closed()
}

// closed tells Stop, when it waits for this connection, that it is closed.
func (ws *wsSocket) closed() {
	ws.mu.Lock()
	awaited := ws.awaited
	ws.awaited = false
	ws.mu.Unlock()
	if awaited {
		ws.srv.wsClosing.Add(-1)
	}
}

// hardClose closes the connection whatever is still being written; during
// a batched send, once it ends (endInline: the descriptor must not be
// reused meanwhile).
func (ws *wsSocket) hardClose() {
	ws.mu.Lock()
	ws.broken, ws.queue = true, nil
	later := ws.inBatch
	ws.mu.Unlock()
	if !later {
		_ = ws.tcp.Close()
	}
	if id := ws.pollID.Load(); id != 0 {
		sharedPoller().remove(id) // a wait for the close reply (awaitClose)
	}
	ws.closed()
}

// closeNow closes a connection never opened (the server is stopping).
func (ws *wsSocket) closeNow() {
	ws.closeOnce.Do(func() {
		ws.mu.Lock()
		ws.broken, ws.ending = true, true
		ws.mu.Unlock()
		_ = ws.tcp.Close()
	})
}
