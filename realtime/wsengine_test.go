package realtime_test

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/quire/quire/realtime"
)

// wireConn is a websocket client written by hand, so that it can send
// what no client library would: unmasked frames, bad opcodes, broken text.
type wireConn struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialWire(t *testing.T, url string) *wireConn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	_, err = io.WriteString(c, "GET /ws/socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"+
		"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	if err != nil {
		t.Fatal(err)
	}
	w := &wireConn{t: t, c: c, br: bufio.NewReader(c)}
	resp, err := http.ReadResponse(w.br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols ||
		resp.Header.Get("Sec-Websocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" { // RFC 6455's example
		t.Fatalf("upgrade: %v %v", err, resp)
	}
	if op, msg := w.read(); op != 1 || !strings.HasPrefix(msg, `0{"sid":"`) {
		t.Fatalf("OPEN: %d %q", op, msg)
	}
	return w
}

// frame writes one frame; masked as clients must unless told otherwise.
func (w *wireConn) frame(b0 byte, masked bool, payload []byte) {
	w.t.Helper()
	out := []byte{b0}
	m := byte(0)
	if masked {
		m = 0x80
	}
	switch n := len(payload); {
	case n > 0xffff:
		out = append(append(out, m|127), binary.BigEndian.AppendUint64(nil, uint64(n))...)
	case n > 125:
		out = append(append(out, m|126), binary.BigEndian.AppendUint16(nil, uint16(n))...)
	default:
		out = append(out, m|byte(n))
	}
	if masked {
		out = append(out, 1, 2, 3, 4)
		for i, c := range payload {
			out = append(out, c^byte(i%4+1))
		}
	} else {
		out = append(out, payload...)
	}
	if _, err := w.c.Write(out); err != nil {
		w.t.Fatal(err)
	}
}

func (w *wireConn) text(s string) { w.frame(0x81, true, []byte(s)) }

func (w *wireConn) raw(b []byte) {
	w.t.Helper()
	if _, err := w.c.Write(b); err != nil {
		w.t.Fatal(err)
	}
}

// read returns the next frame from the server (opcode and payload).
func (w *wireConn) read() (byte, string) {
	w.t.Helper()
	var h [2]byte
	if _, err := io.ReadFull(w.br, h[:]); err != nil {
		return 0, err.Error()
	}
	if h[1]&0x80 != 0 {
		w.t.Fatal("the server masked a frame")
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		_, _ = io.ReadFull(w.br, b[:])
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		_, _ = io.ReadFull(w.br, b[:])
		n = binary.BigEndian.Uint64(b[:])
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(w.br, p); err != nil {
		return 0, err.Error()
	}
	return h[0] & 0x0f, string(p)
}

// closedWith reads until the connection ends; the close frame's code if
// the server sent one (0: none), and whether the TCP connection ended.
func (w *wireConn) closedWith() (code int, ended bool) {
	for {
		op, msg := w.read()
		switch op {
		case 0:
			return code, true
		case 8:
			if len(msg) >= 2 {
				code = int(binary.BigEndian.Uint16([]byte(msg)))
			}
		}
	}
}

// Bad input on Quire's own websocket engine gets a clear close (with the
// websocket close code for a framing violation), never a panic or a hang,
// changes nothing, and leaves no socket behind; a connected client meanwhile
// goes on.
func TestWebSocketBadInputCloses(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *realtime.Config) { c.MaxMessageBytes = 1000 })
	witness := dialRaw(t, b.url, b.tokens["writer"])
	connected := func() float64 { return b.metric(t, "quire_realtime_connected_sockets", nil) }
	for _, c := range []struct {
		name    string
		connect bool
		send    func(w *wireConn)
		code    int // the close frame's code; 0: no close frame, the connection just ends
	}{
		{"unmasked frame", true, func(w *wireConn) { w.frame(0x81, false, []byte(`42["heartbeat",{}]`)) }, 1002},
		{"bad opcode", true, func(w *wireConn) { w.frame(0x83, true, []byte("x")) }, 1002},
		{"reserved bit", true, func(w *wireConn) { w.frame(0xc1, true, []byte("3")) }, 1002},
		{"frame past the engine limit", true, func(w *wireConn) { // its header only: refused closeGrace later, its payload not come
			w.raw([]byte{0x81, 0x80 | 127, 0, 0, 0, 0, 0, 0x10, 0xc8, 0xe0, 1, 2, 3, 4}) // 1,100,000 bytes
		}, 1009},
		{"invalid UTF-8 in text", true, func(w *wireConn) { w.frame(0x81, true, []byte{'4', '2', 0xff}) }, 1007},
		{"continuation without a message", true, func(w *wireConn) { w.frame(0x80, true, []byte("x")) }, 1002},
		{"binary with no pending packet", true, func(w *wireConn) { w.frame(0x82, true, []byte{1, 2}) }, 0},
		{"empty Engine.IO packet", true, func(w *wireConn) { w.text("") }, 0},
		{"unknown Engine.IO packet", true, func(w *wireConn) { w.text("9") }, 0},
		{"ping from the client", true, func(w *wireConn) { w.text("2") }, 0},
		{"Socket.IO garbage", true, func(w *wireConn) { w.text("4garbage") }, 0},
		{"event not an array", true, func(w *wireConn) { w.text(`42{"a":1}`) }, 0},
		{"event before CONNECT", false, func(w *wireConn) { w.text(`42["heartbeat",{}]`) }, 0},
		{"second CONNECT", true, func(w *wireConn) { w.text(`40`) }, 0},
		{"CONNECT_ERROR from the client", true, func(w *wireConn) { w.text(`44{"message":"x"}`) }, 0},
		{"event for another namespace", true, func(w *wireConn) { w.text(`42/admin,["heartbeat",{}]`) }, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := dialWire(t, b.url)
			if c.connect {
				w.text(`40{"token":"` + b.tokens["writer"] + `"}`)
				if _, msg := w.read(); !strings.HasPrefix(msg, `40{"sid":"`) {
					t.Fatalf("CONNECT reply %q", msg)
				}
			}
			c.send(w)
			code, ended := w.closedWith()
			if !ended || code != c.code {
				t.Fatalf("closed with %d (ended %v), want %d", code, ended, c.code)
			}
		})
	}
	waitFor(t, "no socket left but the witness", 30*time.Second, func() bool { return connected() == 1 })
	witness.text(`427["heartbeat",{}]`)
	if ack := witness.next("437["); ack != `437[{"ok":true}]` {
		t.Errorf("the witness: %s", ack)
	}
}

// A CONNECT to another namespace gets CONNECT_ERROR and the connection
// stays; the default namespace can still be connected on it. A client's
// websocket ping gets its pong, and a close frame is answered and ends
// the connection.
func TestWebSocketNamespaceAndControl(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := dialWire(t, b.url)
	w.text(`40/admin,{}`)
	if _, msg := w.read(); msg != `44/admin,{"message":"Invalid namespace"}` {
		t.Fatalf("CONNECT to /admin: %q", msg)
	}
	w.frame(0x89, true, []byte("hello"))
	if op, msg := w.read(); op != 0xa || msg != "hello" {
		t.Fatalf("pong: %d %q", op, msg)
	}
	w.text(`40{"token":"` + b.tokens["writer"] + `"}`)
	if _, msg := w.read(); !strings.HasPrefix(msg, `40{"sid":"`) {
		t.Fatalf("CONNECT reply %q", msg)
	}
	// A fragmented event, a ping between its fragments.
	w.frame(0x01, true, []byte(`427["heart`))
	w.frame(0x89, true, nil)
	if op, _ := w.read(); op != 0xa {
		t.Fatalf("no pong between fragments: %d", op)
	}
	w.frame(0x80, true, []byte(`beat",{}]`))
	if _, msg := w.read(); msg != `437[{"ok":true}]` {
		t.Fatalf("fragmented event's ack: %q", msg)
	}
	w.frame(0x88, true, []byte{0x03, 0xe8})
	if code, ended := w.closedWith(); code != 1000 || !ended {
		t.Fatalf("close: %d %v", code, ended)
	}
}

// Handshakes that are not a websocket upgrade Quire serves get the
// library's Engine.IO errors.
func TestWebSocketHandshakeErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, c := range []struct{ query, body string }{
		{"EIO=4&transport=polling", `{"code":0,"message":"Transport unknown"}`},
		{"EIO=3&transport=websocket", `{"code":5,"message":"Unsupported protocol version"}`},
		{"EIO=4&transport=websocket&sid=abc", `{"code":1,"message":"Session ID unknown"}`},
		{"EIO=4&transport=websocket", `{"code":3,"message":"Bad request"}`}, // not an upgrade
	} {
		resp, err := http.Get(b.url + "/ws/socket.io/?" + c.query)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || string(body) != c.body {
			t.Errorf("%s: %d %s", c.query, resp.StatusCode, body)
		}
	}
}

// A binary packet's attachments count towards one bound with its text: a
// packet past engineLimit (here 1,000 + 1 MiB) closes with 1009 as one
// frame past it does, however it is split, instead of the server keeping
// up to 1,000 attachments of up to engineLimit each; one a little over
// MaxMessageBytes still gets its too_large ack and the connection stays.
func TestWebSocketAttachmentsPastTheEngineLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *realtime.Config) { c.MaxMessageBytes = 1000 })
	w := dialWire(t, b.url)
	w.text(`40{"token":"` + b.tokens["writer"] + `"}`)
	if _, msg := w.read(); !strings.HasPrefix(msg, `40{"sid":"`) {
		t.Fatalf("CONNECT reply %q", msg)
	}
	placeholders := `{"a":{"_placeholder":true,"num":0},"b":{"_placeholder":true,"num":1}}`
	w.text(`452-1["heartbeat",` + placeholders + `]`)
	w.frame(0x82, true, make([]byte, 600))
	w.frame(0x82, true, make([]byte, 600))
	if op, msg := w.read(); op != 1 || msg != `431[{"error":"too_large","ok":false}]` {
		t.Fatalf("over MaxMessageBytes: %d %q", op, msg)
	}
	w.text(`452-2["heartbeat",` + placeholders + `]`)
	w.frame(0x82, true, make([]byte, 600_000))
	w.frame(0x82, true, make([]byte, 600_000))
	code, ended := w.closedWith()
	if !ended || code != 1009 {
		t.Fatalf("closed with %d (ended %v), want 1009", code, ended)
	}
}

// A websocket closed while its CONNECT is being handled (a write of the
// reply failing, a ping timeout, Stop) leaves no socket registered: the
// close either finds the conn and cleans it up, or comes before the socket
// takes it, and the CONNECT then cleans it up.
func TestWebSocketClosedWhileConnecting(t *testing.T) {
	t.Parallel()
	b := setup(t)
	realtime.CloseWebSocketsWhileConnecting(b.srv)
	for range 3 {
		w := dialWire(t, b.url)
		w.text(`40{"token":"` + b.tokens["writer"] + `"}`)
		if _, ended := w.closedWith(); !ended {
			t.Fatal("the connection did not end")
		}
	}
	waitFor(t, "no socket registered", 10*time.Second, func() bool {
		return realtime.ConnCount(b.srv) == 0 && b.metric(t, "quire_realtime_connected_sockets", nil) == 0
	})
}

// A client's close frame is checked as RFC 6455 asks: a code no peer may
// send (1005, 1006, 1015, unassigned ones) fails the connection with 1002,
// a reason that is not UTF-8 with 1007; a valid one is answered with 1000.
func TestWebSocketCloseFrameChecked(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, c := range []struct {
		name    string
		payload []byte
		code    int
	}{
		{"empty", nil, 1000},
		{"1000", []byte{0x03, 0xe8}, 1000},
		{"4000 with a reason", []byte{0x0f, 0xa0, 'b', 'y', 'e'}, 1000},
		{"1005", []byte{0x03, 0xed}, 1002},
		{"1006", []byte{0x03, 0xee}, 1002},
		{"999", []byte{0x03, 0xe7}, 1002},
		{"2000", []byte{0x07, 0xd0}, 1002},
		{"reason not UTF-8", []byte{0x03, 0xe8, 0xff}, 1007},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := dialWire(t, b.url)
			w.frame(0x88, true, c.payload)
			code, ended := w.closedWith()
			if !ended || code != c.code {
				t.Fatalf("closed with %d (ended %v), want %d", code, ended, c.code)
			}
		})
	}
}
