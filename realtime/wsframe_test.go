package realtime

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
	"unicode/utf8"
)

// clientFrame is a masked frame as a client sends it; b0 is the first
// byte (FIN, RSV, opcode) as given.
func clientFrame(b0 byte, payload []byte) []byte {
	out := []byte{b0}
	n := len(payload)
	switch {
	case n > 0xffff:
		out = append(out, 0x80|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	case n > 125:
		out = append(out, 0x80|126)
		out = binary.BigEndian.AppendUint16(out, uint16(n))
	default:
		out = append(out, 0x80|byte(n))
	}
	mask := []byte{0x12, 0x34, 0x56, 0x78}
	out = append(out, mask...)
	for i, c := range payload {
		out = append(out, c^mask[i&3])
	}
	return out
}

type recorded struct {
	op   byte
	data string
}

type recorder struct{ got []recorded }

func (r *recorder) wsMessage(op byte, data []byte) error {
	r.got = append(r.got, recorded{op, string(data)})
	return nil
}

func (r *recorder) wsSkipping(error) {}

func (r *recorder) wsControl(op byte, data []byte) error {
	r.got = append(r.got, recorded{op, string(data)})
	return nil
}

// Messages come out whole and in order however the bytes are split:
// fragmented ones with a ping between their fragments, empty ones, and
// payloads with 16- and 64-bit lengths.
func TestWSParserAnySplit(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 70000)
	var in []byte
	in = append(in, clientFrame(0x81, []byte("40{}"))...)
	in = append(in, clientFrame(0x01, []byte("42[\"a\","))...) // text, not final
	in = append(in, clientFrame(0x89, []byte("hi"))...)        // ping between fragments
	in = append(in, clientFrame(0x00, []byte("1,"))...)        // continuation
	in = append(in, clientFrame(0x80, []byte("2]"))...)        // final continuation
	in = append(in, clientFrame(0x82, nil)...)                 // empty binary
	in = append(in, clientFrame(0x82, bytes.Repeat([]byte{7}, 300))...)
	in = append(in, clientFrame(0x81, big)...)
	want := []recorded{{wsText, "40{}"}, {wsPing, "hi"}, {wsText, `42["a",1,2]`}, {wsBinary, ""},
		{wsBinary, string(bytes.Repeat([]byte{7}, 300))}, {wsText, string(big)}}
	for _, step := range []int{1, 2, 3, 7, 13, 125, 4096, len(in)} {
		p := wsParser{limit: 1 << 20}
		r := &recorder{}
		for i := 0; i < len(in); i += step {
			if err := p.feed(in[i:min(i+step, len(in))], r); err != nil {
				t.Fatalf("split %d: %v", step, err)
			}
		}
		if len(r.got) != len(want) {
			t.Fatalf("split %d: %d messages, want %d", step, len(r.got), len(want))
		}
		for i := range want {
			if r.got[i] != want[i] {
				t.Fatalf("split %d: message %d is %d %.20q, want %d %.20q", step, i, r.got[i].op, r.got[i].data, want[i].op, want[i].data)
			}
		}
		if p.msg != nil || p.inFrame || p.nhdr != 0 {
			t.Fatalf("split %d: state kept between messages", step)
		}
	}
}

// Every violation ends the connection with its close code.
func TestWSParserRefuses(t *testing.T) {
	unmasked := []byte{0x81, 0x02, 'h', 'i'}
	bad := []byte{'a', 0xff, 'b'}
	for _, c := range []struct {
		name string
		in   []byte
		code int
	}{
		{"unmasked client frame", unmasked, wsCloseProtocol},
		{"reserved bit", clientFrame(0xc1, []byte("x")), wsCloseProtocol},
		{"unknown data opcode", clientFrame(0x83, []byte("x")), wsCloseProtocol},
		{"unknown control opcode", clientFrame(0x8b, nil), wsCloseProtocol},
		{"fragmented control frame", clientFrame(0x09, nil), wsCloseProtocol},
		{"control frame over 125", clientFrame(0x89, make([]byte, 126)), wsCloseProtocol},
		{"continuation first", clientFrame(0x80, []byte("x")), wsCloseProtocol},
		{"message inside a fragmented one", append(clientFrame(0x01, []byte("a")), clientFrame(0x81, []byte("b"))...), wsCloseProtocol},
		{"over the limit", clientFrame(0x81, make([]byte, 101)), wsCloseTooBig},
		{"fragments over the limit", append(clientFrame(0x02, make([]byte, 60)), clientFrame(0x80, make([]byte, 60))...), wsCloseTooBig},
		{"64-bit length with its top bit", []byte{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}, wsCloseTooBig},
		{"invalid UTF-8 text", clientFrame(0x81, bad), wsCloseInvalidData},
		{"invalid UTF-8 across fragments", append(clientFrame(0x01, bad[:2]), clientFrame(0x80, bad[2:])...), wsCloseInvalidData},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := wsParser{limit: 100}
			err := p.feed(c.in, &recorder{})
			var we *wsError
			if !errors.As(err, &we) || we.code != c.code {
				t.Fatalf("error %v, want close %d", err, c.code)
			}
		})
	}
}

// FuzzWSParser: whatever the bytes and their split, the parser neither
// panics nor hands over a message past its limit or text that is not
// UTF-8, and stops at its first error.
func FuzzWSParser(f *testing.F) {
	f.Add(clientFrame(0x81, []byte("42[\"a\",{}]")), uint8(3))
	f.Add(append(clientFrame(0x01, []byte("a")), clientFrame(0x80, []byte("b"))...), uint8(1))
	f.Add(clientFrame(0x89, []byte("ping")), uint8(2))
	f.Add(clientFrame(0x82, make([]byte, 200)), uint8(50))
	f.Add([]byte{0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, uint8(4))
	f.Add([]byte{0x81, 0x02, 'h', 'i'}, uint8(1))
	f.Fuzz(func(t *testing.T, in []byte, step uint8) {
		const limit = 1000
		p := wsParser{limit: limit}
		r := &checker{t: t, limit: limit}
		s := int(step)%64 + 1
		for i := 0; i < len(in); i += s {
			if err := p.feed(in[i:min(i+s, len(in))], r); err != nil {
				return
			}
		}
	})
}

type checker struct {
	t     *testing.T
	limit int
}

func (c *checker) wsMessage(op byte, data []byte) error {
	if len(data) > c.limit || (op != wsText && op != wsBinary) || (op == wsText && !utf8.Valid(data)) {
		c.t.Fatalf("message %d of %d bytes handed over", op, len(data))
	}
	return nil
}

func (c *checker) wsSkipping(error) {}

func (c *checker) wsControl(op byte, data []byte) error {
	if len(data) > 125 || op < wsClose {
		c.t.Fatalf("control %d of %d bytes handed over", op, len(data))
	}
	return nil
}

// FuzzDecodeSIO: any packet text is decoded or refused, never a panic,
// and a binary packet announces its attachments within the bound.
func FuzzDecodeSIO(f *testing.F) {
	for _, s := range []string{
		`0`, `0{"token":"x"}`, `0/admin,{}`, `1`, `2["a",{"b":1}]`, `212["a"]`, `2/x,5["a"]`,
		`3[]`, `37[{"ok":true}]`, `51-["u",{"update":{"_placeholder":true,"num":0}}]`,
		`61-3[{"_placeholder":true,"num":0}]`, `5x-["a"]`, `2[]`, `2[1]`, `4{"message":"x"}`,
		`2999999999999999999999["a"]`, `5999999-["a"]`, `2["a",`, "2[\"\xff\"]",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodeSIO(b)
		if err != nil {
			return
		}
		if p.attachments > maxAttachments {
			t.Fatalf("%d attachments", p.attachments)
		}
		if p.attachments > 0 {
			att := make([][]byte, p.attachments)
			_ = p.fill(att)
		}
	})
}

// The library's decoder's answers, kept: what is refused closes the
// connection, what is decoded reaches the handlers as before.
func TestDecodeSIO(t *testing.T) {
	for _, c := range []struct {
		in   string
		ok   bool
		typ  int
		nsp  string
		id   int64 // -1: none
		name string
	}{
		{`0`, true, sioConnect, "/", -1, ""},
		{`0{"token":"t"}`, true, sioConnect, "/", -1, ""},
		{`0/admin,{}`, true, sioConnect, "/admin", -1, ""},
		{`0"x"`, false, 0, "", 0, ""},
		{`1`, true, sioDisconnect, "/", -1, ""},
		{`2["a",{}]`, true, sioEvent, "/", -1, "a"},
		{`27["a"]`, true, sioEvent, "/", 7, "a"},
		{`2/,3["a"]`, true, sioEvent, "/", 3, "a"},
		{`2[]`, false, 0, "", 0, ""},
		{`2[1]`, false, 0, "", 0, ""},
		{`2{"a":1}`, false, 0, "", 0, ""},
		{`2["a",`, false, 0, "", 0, ""},
		{`21234567890123456["a"]`, false, 0, "", 0, ""},
		{`3[{"ok":true}]`, true, sioAck, "/", -1, ""},
		{`4{"message":"x"}`, false, 0, "", 0, ""},
		{`7`, false, 0, "", 0, ""},
		{``, false, 0, "", 0, ""},
		{`5-["a"]`, false, 0, "", 0, ""},
		{`5x-["a"]`, false, 0, "", 0, ""},
		{`51["a"]`, false, 0, "", 0, ""},
		{`51-{}`, false, 0, "", 0, ""},
	} {
		p, err := decodeSIO([]byte(c.in))
		if (err == nil) != c.ok {
			t.Errorf("%q: error %v, want ok %v", c.in, err, c.ok)
			continue
		}
		if !c.ok {
			continue
		}
		id := int64(-1)
		if p.id != nil {
			id = int64(*p.id)
		}
		if p.typ != c.typ || p.nsp != c.nsp || id != c.id || p.name != c.name {
			t.Errorf("%q: %+v", c.in, p)
		}
	}
	p, err := decodeSIO([]byte(`52-["u",{"a":{"_placeholder":true,"num":1},"b":[{"_placeholder":true,"num":0}],"c":{"_placeholder":true,"num":-1}}]`))
	if err != nil || p.attachments != 2 {
		t.Fatalf("binary event: %v %+v", err, p)
	}
	if err := p.fill([][]byte{[]byte("zero"), []byte("one")}); err != nil {
		t.Fatal(err)
	}
	m := p.args[0].(map[string]any)
	if string(m["a"].([]byte)) != "one" || string(m["b"].([]any)[0].([]byte)) != "zero" {
		t.Errorf("attachments not in place: %v", m)
	}
	if _, still := m["c"].(map[string]any); !still {
		t.Errorf("a negative placeholder became %v, want the object as sent", m["c"])
	}
	p, _ = decodeSIO([]byte(`51-["u",{"_placeholder":true,"num":1}]`))
	if err := p.fill([][]byte{{1}}); err == nil {
		t.Error("a placeholder past the attachments was accepted")
	}
}

// A header alone must not make the server allocate the size it announces:
// 14 bytes announcing a message at the limit would otherwise reserve the
// whole limit (32 MiB by default) per connection, before any payload came.
func TestWSParserAllocatesAsPayloadArrives(t *testing.T) {
	const limit = 32 << 20
	p := wsParser{limit: limit}
	hdr := []byte{0x82, 0x80 | 127}
	hdr = binary.BigEndian.AppendUint64(hdr, limit)
	hdr = append(hdr, 1, 2, 3, 4)
	if err := p.feed(hdr, &recorder{}); err != nil {
		t.Fatal(err)
	}
	if c := cap(p.msg); c > 64<<10 {
		t.Fatalf("%d bytes reserved for a header, want at most 64 KiB", c)
	}
	// The payload still arrives whole.
	payload := bytes.Repeat([]byte{9}, 100000)
	p = wsParser{limit: limit}
	r := &recorder{}
	if err := p.feed(clientFrame(0x82, payload), r); err != nil {
		t.Fatal(err)
	}
	if len(r.got) != 1 || r.got[0].data != string(payload) {
		t.Fatalf("got %d messages", len(r.got))
	}
}

// A frame past the limit is read to its end and dropped before the 1009
// error, so the close does not leave the client's bytes unread (the
// kernel would answer them with a reset, and the client might see that
// instead of the close frame); nothing of it is kept or handed over.
// One announced past wsSkipFactor times the limit fails at its header.
func TestWSParserSkipsAFramePastTheLimit(t *testing.T) {
	p := wsParser{limit: 100}
	r := &recorder{}
	frame := clientFrame(0x81, make([]byte, 250))
	if err := p.feed(frame[:len(frame)-1], r); err != nil {
		t.Fatalf("before the frame's last byte: %v, want no error yet", err)
	}
	if len(p.msg) != 0 || len(r.got) != 0 {
		t.Fatalf("kept %d bytes, handed over %d messages", len(p.msg), len(r.got))
	}
	err := p.feed(frame[len(frame)-1:], r)
	if we := (*wsError)(nil); !errors.As(err, &we) || we.code != wsCloseTooBig {
		t.Fatalf("at the frame's end: %v, want close %d", err, wsCloseTooBig)
	}

	p = wsParser{limit: 100}
	hdr := clientFrame(0x82, make([]byte, 401))[:8] // 126, 16-bit length, mask
	if we := (*wsError)(nil); !errors.As(p.feed(hdr, r), &we) || we.code != wsCloseTooBig {
		t.Fatalf("a header announcing 401 bytes: want close %d at once", wsCloseTooBig)
	}
}
