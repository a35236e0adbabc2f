package yupdate

import (
	"encoding/binary"
	"runtime"
	"testing"
)

// docBuilder writes a ProseMirror-shaped v1 update by hand, for sizes the committed yjs
// fixtures do not reach: paragraphs of XmlText with bold runs, from several clients.
type docBuilder struct{ b []byte }

func (d *docBuilder) uint(v uint64)  { d.b = binary.AppendUvarint(d.b, v) }
func (d *docBuilder) str(s string)   { d.uint(uint64(len(s))); d.b = append(d.b, s...) }
func (d *docBuilder) id(c, k uint64) { d.uint(c); d.uint(k) }

// bigDocument returns an update of about size bytes, its struct count and client count.
func bigDocument(size int) ([]byte, int) {
	const clients = 4
	perClient := size / clients
	var d docBuilder
	d.uint(clients)
	structs := 0
	var lastPara ID
	for c := uint64(1); c <= clients; c++ {
		var body docBuilder
		clock, n := uint64(0), 0
		for len(body.b) < perClient {
			para := ID{c, clock}
			if clock == 0 && c == 1 {
				body.b = append(body.b, refType)
				body.uint(1)
				body.str("prosemirror")
			} else {
				body.b = append(body.b, infoOrigin|refType)
				body.id(lastPara.Client, lastPara.Clock)
			}
			body.uint(typeXmlElement)
			body.str("paragraph")
			lastPara = para
			text := ID{c, clock + 1}
			body.b = append(body.b, refType)
			body.uint(0)
			body.id(para.Client, para.Clock)
			body.uint(typeLast)
			clock += 2
			n += 2
			prev := ID{}
			for w := range 12 {
				s := "some words typed "
				if w == 0 {
					body.b = append(body.b, refString)
					body.uint(0)
					body.id(text.Client, text.Clock)
				} else {
					body.b = append(body.b, infoOrigin|infoRightOrigin|refString)
					body.id(prev.Client, prev.Clock)
					body.id(text.Client, text.Clock) // any present id will do as right origin
				}
				body.str(s)
				prev = ID{c, clock + uint64(len(s)) - 1}
				clock += uint64(len(s))
				n++
				if w%4 == 3 {
					body.b = append(body.b, infoOrigin|refFormat)
					body.id(prev.Client, prev.Clock)
					body.str("bold")
					body.str("true")
					prev = ID{c, clock}
					clock++
					n++
				}
			}
		}
		d.uint(uint64(n))
		d.id(c, 0)
		d.b = append(d.b, body.b...)
		structs += n
	}
	d.uint(clients) // delete set: a few ranges per client
	for c := uint64(1); c <= clients; c++ {
		d.uint(c)
		d.uint(3)
		for k := range uint64(3) {
			d.uint(100 + 50*k)
			d.uint(5)
		}
	}
	return d.b, structs
}

func TestBigDocument(t *testing.T) {
	t.Parallel()
	b, structs := bigDocument(1 << 20)
	u, err := Parse(b, Limits{})
	noErr(t, err)
	equal(t, 4, len(u.Structs))
	equal(t, 4, len(u.Deletes))
	equal(t, 0, len(u.Deps), "every reference is inside the document")
	check(t, !u.Missing(nil), "a whole document misses nothing")
	_, err = Parse(b, Limits{MaxStructs: structs - 1})
	invalid(t, err)
	_, err = Parse(b, Limits{MaxStructs: structs})
	noErr(t, err)
}

func BenchmarkParse(b *testing.B) {
	keystroke := updates(b)["seq/text/5"]
	big, _ := bigDocument(1 << 20)
	for _, c := range []struct {
		name string
		data []byte
	}{{"keystroke", keystroke}, {"document-1MB", big}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Parse(c.data, Limits{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestAllocationBound builds dense hostile-shaped updates (many tiny clients, many
// origin-carrying items, skips between items) and checks Parse allocates at most 64× input.
// Not parallel: it reads the process-wide allocation counter.
func TestAllocationBound(t *testing.T) {
	const n = 20000
	var clients, items, skips docBuilder
	clients.uint(n)
	items.uint(1)
	items.uint(n)
	items.id(1, 0)
	skips.uint(1)
	skips.uint(2 * n)
	skips.id(1, 0)
	for i := range uint64(n) {
		clients.uint(1)
		clients.id(i+2, 0)
		clients.b = append(clients.b, refGC, 1)
		items.b = append(items.b, infoOrigin|infoRightOrigin|refDeleted)
		items.id(i+100000, 0) // every origin a distinct missing id
		items.id(i+200000, 0)
		items.uint(1)
		skips.b = append(skips.b, refDeleted|infoOrigin)
		skips.id(7, i)
		skips.uint(1)
		skips.b = append(skips.b, refSkip, 1)
	}
	for name, b := range map[string][]byte{"clients": clients.b, "items": items.b, "skips": skips.b} {
		b = append(b, 0)
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		u, err := Parse(b, Limits{})
		runtime.ReadMemStats(&m1)
		noErr(t, err, name)
		check(t, len(u.Structs) > 0)
		perByte := float64(m1.TotalAlloc-m0.TotalAlloc) / float64(len(b))
		t.Logf("%s: %d bytes, %.1f bytes allocated per input byte", name, len(b), perByte)
		check(t, perByte < 64, name, perByte)
	}
}
