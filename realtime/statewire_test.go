package realtime_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/quire/quire/realtime"
)

// textUpdate is the Yjs v1 update of a fresh client inserting s (ASCII)
// into the root Y.Text "t": one struct group, one ContentString item with
// its parent named, an empty delete set.
func textUpdate(client byte, s string) []byte {
	u := []byte{1, 1, client, 0, 4, 1, 1, 't'}
	u = appendVarUint(u, uint64(len(s)))
	return append(append(u, s...), 0)
}

func appendVarUint(b []byte, n uint64) []byte {
	for n >= 0x80 {
		b = append(b, byte(n)|0x80)
		n >>= 7
	}
	return append(b, byte(n))
}

// rawSocket is a Socket.IO client written by hand over a websocket, to
// send and see the exact frames: the wire form of states and malformed
// binary packets no real client sends.
type rawSocket struct {
	t    *testing.T
	conn *websocket.Conn
	sid  string
}

func dialRaw(t *testing.T, url, token string) *rawSocket {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial(socketURL(url), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	s := &rawSocket{t: t, conn: conn}
	s.next("0{")
	s.text(`40{"token":"` + token + `"}`)
	var connected struct{ Sid string }
	if err := json.Unmarshal([]byte(strings.TrimPrefix(s.next("40{"), "40")), &connected); err != nil || connected.Sid == "" {
		t.Fatalf("CONNECT reply: %v", err)
	}
	s.sid = connected.Sid
	return s
}

func (s *rawSocket) text(msg string) {
	s.t.Helper()
	if err := s.conn.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		s.t.Fatal(err)
	}
}

func (s *rawSocket) binary(b []byte) {
	s.t.Helper()
	if err := s.conn.WriteMessage(websocket.BinaryMessage, b); err != nil {
		s.t.Fatal(err)
	}
}

// read returns the next message that is not an Engine.IO ping (answered).
func (s *rawSocket) read() (int, []byte, error) {
	_ = s.conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	for {
		mt, msg, err := s.conn.ReadMessage()
		if err != nil {
			return 0, nil, err
		}
		if mt == websocket.TextMessage && string(msg) == "2" {
			_ = s.conn.WriteMessage(websocket.TextMessage, []byte("3"))
			continue
		}
		return mt, msg, nil
	}
}

// next skips messages until a text message starting with prefix.
func (s *rawSocket) next(prefix string) string {
	s.t.Helper()
	for {
		mt, msg, err := s.read()
		if err != nil {
			s.t.Fatalf("waiting for %q: %v", prefix, err)
		}
		if mt == websocket.TextMessage && strings.HasPrefix(string(msg), prefix) {
			return string(msg)
		}
	}
}

// closed waits until the server closes the connection, skipping messages.
func (s *rawSocket) closed() error {
	for {
		if _, _, err := s.read(); err != nil {
			if ne, isNet := err.(interface{ Timeout() bool }); isNet && ne.Timeout() {
				return err
			}
			return nil
		}
	}
}

// A state of at least 1 KiB reaches a joiner as a binary attachment that
// follows its header at once and holds exactly the document's state; a
// smaller one as a JSON array. A binary update from a client is accepted.
func TestStateWireForms(t *testing.T) {
	t.Parallel()
	b := setup(t)
	doc := "note:" + b.note.ID
	ctx := context.Background()

	w := dialRaw(t, b.url, b.tokens["writer"])
	w.text(`421["ydoc:document:join",{"document_id":"` + doc + `"}]`)
	if st := w.next(`42["ydoc:document:state"`); !strings.Contains(st, `"state":[0,0]`) {
		t.Errorf("empty state %s, want the JSON array [0,0]", st)
	}
	w.next("431[")

	text := strings.Repeat("binary state ", 1600) // 20 KB
	w.text(`451-2["ydoc:document:update",{"document_id":"` + doc + `","update":{"_placeholder":true,"num":0}}]`)
	w.binary(textUpdate(7, text))
	if ack := w.next("432"); !strings.Contains(ack, `"ok":true`) {
		t.Fatalf("binary update ack %s", ack)
	}
	want, err := b.docs.State(ctx, doc)
	if err != nil {
		t.Fatal(err)
	}

	r := dialRaw(t, b.url, b.tokens["reader"])
	r.text(`421["ydoc:document:join",{"document_id":"` + doc + `"}]`)
	header := r.next(`451-["ydoc:document:state"`)
	var ev []json.RawMessage
	if err := json.Unmarshal([]byte(strings.TrimPrefix(header, "451-")), &ev); err != nil || len(ev) != 2 {
		t.Fatalf("state header %q: %v", header, err)
	}
	var payload struct {
		DocumentID string          `json:"document_id"`
		State      json.RawMessage `json:"state"`
		Sessions   []string        `json:"sessions"`
	}
	if err := json.Unmarshal(ev[1], &payload); err != nil {
		t.Fatal(err)
	}
	if payload.DocumentID != doc || string(payload.State) != `{"_placeholder":true,"num":0}` ||
		strings.Join(payload.Sessions, ",") != strings.Join(sorted(w.sid, r.sid), ",") {
		t.Errorf("state header %s", ev[1])
	}
	mt, got, err := r.read()
	if err != nil || mt != websocket.BinaryMessage {
		t.Fatalf("the message after the header: type %d, %v", mt, err)
	}
	if !bytes.Equal(got, want.Update) {
		t.Errorf("binary state (%d bytes) differs from the document's (%d bytes)", len(got), len(want.Update))
	}
	if !bytes.Contains(got, []byte(text)) {
		t.Error("the state lacks the update's text")
	}
	if ack := r.next("431"); !strings.Contains(ack, `"ok":true`) {
		t.Errorf("join ack %s", ack)
	}
}

func sorted(a, b string) []string {
	if a > b {
		return []string{b, a}
	}
	return []string{a, b}
}

// socket.io-client (the stock frontend's library) reads the binary state
// over websocket and over polling, and Yjs applies it: the same bytes as
// the document's state.
func TestBinaryStateWithSocketIOClient(t *testing.T) {
	t.Parallel()
	eachTransport(t, func(t *testing.T, transport string) {
		b := setup(t, func(c *realtime.Config) { c.EnablePolling = transport == "polling" })
		doc := "note:" + b.note.ID
		text := strings.Repeat("state for socket.io-client ", 200)
		if err := b.docs.Apply(context.Background(), doc, "seed", textUpdate(9, text)); err != nil {
			t.Fatal(err)
		}
		want, err := b.docs.State(context.Background(), doc)
		if err != nil {
			t.Fatal(err)
		}
		var r struct {
			Binary bool
			State  string
			Text   string
		}
		node(t, &r, "statewire.mjs", b.url, b.tokens["reader"], doc, transport)
		got, _ := base64.StdEncoding.DecodeString(r.State)
		if !r.Binary || !bytes.Equal(got, want.Update) || r.Text != text {
			t.Errorf("binary %v, %d bytes (want %d), text %d chars (want %d)", r.Binary, len(got), len(want.Update), len(r.Text), len(text))
		}
	})
}

// Malformed binary packets: an attachment that is not a Yjs update, or a
// field that only looks like a placeholder, get an error ack; a packet
// whose attachments do not match its header breaks the Socket.IO framing,
// so the server closes that connection (as socket.io does). None changes
// the document.
func TestMalformedBinaryUpdates(t *testing.T) {
	t.Parallel()
	b := setup(t)
	doc := "note:" + b.note.ID
	ctx := context.Background()
	if err := b.docs.Apply(ctx, doc, "seed", textUpdate(3, "kept")); err != nil {
		t.Fatal(err)
	}
	before, err := b.docs.State(ctx, doc)
	if err != nil {
		t.Fatal(err)
	}
	unchanged := func(t *testing.T) {
		t.Helper()
		st, err := b.docs.State(ctx, doc)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(st.Update, before.Update) {
			t.Error("the document changed")
		}
	}
	joined := func(t *testing.T) *rawSocket {
		s := dialRaw(t, b.url, b.tokens["writer"])
		s.text(`421["ydoc:document:join",{"document_id":"` + doc + `"}]`)
		s.next("431[")
		return s
	}
	update := func(ack int, field string) string {
		return fmt.Sprintf(`451-%d["ydoc:document:update",{"document_id":"%s","update":%s}]`, ack, doc, field)
	}
	valid := textUpdate(5, "refused")

	t.Run("acked", func(t *testing.T) {
		s := joined(t)
		for i, c := range []struct {
			name, field string
			attach      []byte
		}{
			{"hostile bytes", `{"_placeholder":true,"num":0}`, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}},
			{"truncated update", `{"_placeholder":true,"num":0}`, valid[:len(valid)-3]},
			{"empty attachment", `{"_placeholder":true,"num":0}`, []byte{}},
			{"placeholder flag not true", `{"_placeholder":"yes","num":0}`, valid},
			{"placeholder num not a number", `{"_placeholder":true,"num":"0"}`, valid},
			{"negative placeholder", `{"_placeholder":true,"num":-1}`, valid},
		} {
			id := 10 + i
			s.text(update(id, c.field))
			s.binary(c.attach)
			ack := s.next(fmt.Sprintf("43%d[", id))
			var got []map[string]any
			if err := json.Unmarshal([]byte(ack[4:]), &got); err != nil || len(got) != 1 ||
				!equalJSON(got[0], map[string]any{"ok": false, "error": "invalid_update"}) {
				t.Errorf("%s: ack %s, want invalid_update", c.name, ack)
			}
		}
		unchanged(t)
	})

	for _, c := range []struct {
		name string
		send func(s *rawSocket)
	}{
		{"placeholder past the attachments", func(s *rawSocket) {
			s.text(update(2, `{"_placeholder":true,"num":1}`))
			s.binary(valid)
		}},
		{"attachment without a packet", func(s *rawSocket) { s.binary(valid) }},
		{"text where an attachment is due", func(s *rawSocket) {
			s.text(update(2, `{"_placeholder":true,"num":0}`))
			s.text(`423["heartbeat",{}]`)
		}},
		{"attachment count not a number", func(s *rawSocket) {
			s.text(`45x-2["ydoc:document:update",{"document_id":"` + doc + `","update":{"_placeholder":true,"num":0}}]`)
			s.binary(valid)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := joined(t)
			c.send(s)
			if err := s.closed(); err != nil {
				t.Fatalf("the connection stayed open: %v", err)
			}
			unchanged(t)
		})
	}
}
