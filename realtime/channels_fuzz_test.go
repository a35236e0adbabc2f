package realtime_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"github.com/quire/quire/realtime"
	"github.com/quire/quire/storage"
)

// sioClient is a raw Socket.IO client on a websocket, for fuzzing: it
// answers pings and keeps the events it reads while waiting for an ack.
type sioClient struct {
	conn   *websocket.Conn
	nextID int
}

func dialSIO(tb testing.TB, url, token string) *sioClient {
	tb.Helper()
	conn, _, err := websocket.DefaultDialer.Dial(socketURL(url), nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	c := &sioClient{conn: conn}
	if _, err := c.next(); err != nil { // OPEN
		tb.Fatal(err)
	}
	if err := c.send(`40{"token":"` + token + `"}`); err != nil {
		tb.Fatal(err)
	}
	if msg, err := c.next(); err != nil || !strings.HasPrefix(msg, "40{") {
		tb.Fatalf("CONNECT: %q %v", msg, err)
	}
	return c
}

func (c *sioClient) send(msg string) error {
	return c.conn.WriteMessage(websocket.TextMessage, []byte(msg))
}

// next reads the next Socket.IO message, answering pings on the way.
func (c *sioClient) next() (string, error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(time.Minute))
	for {
		_, b, err := c.conn.ReadMessage()
		if err != nil {
			return "", err
		}
		if string(b) == "2" {
			if err := c.send("3"); err != nil {
				return "", err
			}
			continue
		}
		return string(b), nil
	}
}

// emit sends event with the raw JSON payload and returns its ack's value
// and the events read before it.
func (c *sioClient) emit(event string, payload []byte) (ack json.RawMessage, events []string, err error) {
	c.nextID++
	id := strconv.Itoa(c.nextID)
	if err := c.send("42" + id + `["` + event + `",` + string(payload) + "]"); err != nil {
		return nil, nil, err
	}
	for {
		msg, err := c.next()
		if err != nil {
			return nil, events, err
		}
		if rest, isAck := strings.CutPrefix(msg, "43"+id+"["); isAck {
			return json.RawMessage(strings.TrimSuffix(rest, "]")), events, nil
		}
		events = append(events, msg)
	}
}

// until reads events up to and including the first holding marker.
func (c *sioClient) until(marker string) ([]string, error) {
	var out []string
	for {
		msg, err := c.next()
		if err != nil {
			return out, err
		}
		if strings.Contains(msg, marker) {
			return out, nil
		}
		out = append(out, msg)
	}
}

// FuzzChannelEvent: an events:channel payload from a member's socket gets
// an ack, {"ok":true} or {"ok":false,"error":<reason>}, never a closed
// socket; the other member's socket hears exactly the typing event sent
// (channel_id, message_id, typing, the sender's name) when it was acked
// ok, and nothing otherwise; last_read_at moves only on an ok
// last_read_at; the channel itself never changes. $CHANNEL in a payload
// is the members' channel, $OTHER a channel they are not in.
func FuzzChannelEvent(f *testing.F) {
	for _, s := range []string{
		`{"channel_id":"$CHANNEL","message_id":null,"data":{"type":"typing","data":{"typing":true}}}`,
		`{"channel_id":"$CHANNEL","message_id":"m-1","data":{"type":"typing","data":{"typing":false}}}`,
		`{"channel_id":"$CHANNEL","data":{"type":"last_read_at"}}`,
		`{"channel_id":"$OTHER","message_id":null,"data":{"type":"typing","data":{"typing":true}}}`,
		`{"channel_id":"$CHANNEL","message_id":7,"data":{"type":"typing","data":{"typing":1}}}`,
		`{"channel_id":"nope","data":{"type":"message","data":{"content":"x"}}}`,
		`{"channel_id":"$CHANNEL","message_id":"\u00e9\ud83d\ude00","data":{"type":"typing","data":{"typing":true,"x":[1]}},"user":{"id":"forged"}}`,
		`["$CHANNEL"]`, `null`, `"x"`, `{}`,
	} {
		f.Add([]byte(s))
	}
	b := setup(f, func(c *realtime.Config) {
		c.Logger = slog.New(slog.DiscardHandler) // refusals are the point; acks say what failed
		c.EventRate, c.EventBurst = 1e9, 1e9
	})
	ctx := context.Background()
	owner, reader, stranger := b.users["owner"], b.users["reader"], b.users["stranger"]
	ch := b.privateGroup(f, "g", storage.ChannelMember{UserID: owner.ID, Role: storage.MemberManager}, storage.ChannelMember{UserID: reader.ID})
	other := b.privateGroup(f, "h", storage.ChannelMember{UserID: stranger.ID})
	sender, hearer := dialSIO(f, b.url, b.tokens["owner"]), dialSIO(f, b.url, b.tokens["reader"])
	for _, c := range []*sioClient{sender, hearer} {
		if ack, _, err := c.emit("join-channels", []byte(`{}`)); err != nil || string(ack) != `{"ok":true}` {
			f.Fatalf("join-channels: %s %v", ack, err)
		}
	}
	subs := strings.NewReplacer("$CHANNEL", ch.ID, "$OTHER", other.ID)
	markers := 0
	f.Fuzz(func(t *testing.T, payload []byte) {
		payload = []byte(subs.Replace(string(payload)))
		if !utf8.Valid(payload) || !json.Valid(payload) {
			return // not an event at all: the packet decoder's (FuzzDecodeSIO)
		}
		chBefore, err := b.store.GetChannel(ctx, ch.ID)
		if err != nil {
			t.Fatal(err)
		}
		readBefore, err := b.store.GetChannelMember(ctx, ch.ID, owner.ID)
		if err != nil {
			t.Fatal(err)
		}
		ack, own, err := sender.emit("events:channel", payload)
		if err != nil {
			t.Fatalf("%s: no ack: %v (the socket closed?)", payload, err)
		}
		var a struct {
			OK    *bool  `json:"ok"`
			Error string `json:"error"`
		}
		if json.Unmarshal(ack, &a) != nil || a.OK == nil || *a.OK == (a.Error != "") {
			t.Fatalf("%s: ack %s", payload, ack)
		}
		if len(own) != 0 {
			t.Fatalf("%s: the sender heard %q", payload, own)
		}
		// A good typing event after it: what the other socket hears
		// before that is what this payload made it hear.
		markers++
		marker := "marker-" + strconv.Itoa(markers)
		good := `{"channel_id":"` + ch.ID + `","message_id":"` + marker + `","data":{"type":"typing","data":{"typing":true}}}`
		if ack, _, err := sender.emit("events:channel", []byte(good)); err != nil || string(ack) != `{"ok":true}` {
			t.Fatalf("marker: %s %v", ack, err)
		}
		heard, err := hearer.until(marker)
		if err != nil {
			t.Fatalf("%s: the other member's socket: %v", payload, err)
		}

		var sent struct {
			ChannelID any `json:"channel_id"`
			MessageID any `json:"message_id"`
			Data      struct {
				Type any `json:"type"`
				Data struct {
					Typing any `json:"typing"`
				} `json:"data"`
			} `json:"data"`
		}
		_ = json.Unmarshal(payload, &sent) // a field of another type stays nil
		typing := *a.OK && sent.Data.Type == "typing"
		switch {
		case typing && len(heard) == 1:
			want := []any{"events:channel", map[string]any{"channel_id": ch.ID, "message_id": sent.MessageID,
				"data": map[string]any{"type": "typing", "data": map[string]any{"typing": sent.Data.Data.Typing}},
				"user": map[string]any{"id": owner.ID, "name": owner.Name, "role": owner.Role}}}
			var got any
			if err := json.Unmarshal([]byte(strings.TrimPrefix(heard[0], "42")), &got); err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: relayed as %s, want %v", payload, heard[0], want)
			}
		case typing || len(heard) != 0:
			t.Fatalf("%s: acked %s, the other member heard %q", payload, ack, heard)
		}

		chAfter, err := b.store.GetChannel(ctx, ch.ID)
		if err != nil || !reflect.DeepEqual(chBefore, chAfter) {
			t.Fatalf("%s: the channel changed: %v %v (%v)", payload, chBefore, chAfter, err)
		}
		readAfter, err := b.store.GetChannelMember(ctx, ch.ID, owner.ID)
		if err != nil {
			t.Fatal(err)
		}
		marked := *a.OK && sent.Data.Type == "last_read_at"
		if moved := readAfter.LastReadAt != readBefore.LastReadAt; moved != marked {
			t.Fatalf("%s: acked %s, last_read_at %d → %d", payload, ack, readBefore.LastReadAt, readAfter.LastReadAt)
		}
		if !bytes.Equal(ack, []byte(`{"ok":true}`)) && *a.OK {
			t.Fatalf("%s: ok ack with more: %s", payload, ack)
		}
	})
}
