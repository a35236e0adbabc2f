package realtime

import (
	"reflect"
	"strings"
	"testing"

	"github.com/zishang520/socket.io/parsers/socket/v3/parser"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// libraryDecode is what the library's own decoder makes of a text packet.
func libraryDecode(s string) (*parser.Packet, error) {
	d := parser.NewParser().NewDecoder()
	var got *parser.Packet
	_ = d.On("decoded", func(args ...any) { got = args[0].(*parser.Packet) })
	err := d.Add(s)
	return got, err
}

// normalized is a decoded event's payload with the update as bytes, the
// way the handlers read it (bytesField), so the two decoders compare.
func normalized(t *testing.T, p *parser.Packet) (string, any, map[string]any) {
	t.Helper()
	a := p.Data.([]any)
	m, _ := a[1].(map[string]any)
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	if _, present := m["update"]; present {
		if b, _, ok := fields(m).bytesField("update"); ok {
			out["update"] = b // else compared as decoded: refused alike
		}
	}
	var id any
	if p.Id != nil {
		id = *p.Id
	}
	return a[0].(string), id, out
}

// checkAgrees fails when fastUpdate decodes s into something the library
// would not have: a refused packet, another name, id or payload.
func checkAgrees(t *testing.T, s string) {
	t.Helper()
	fast := fastUpdate([]byte(s))
	if fast == nil {
		return // the library decides
	}
	lib, err := libraryDecode(s)
	if err != nil || lib == nil {
		t.Fatalf("fast path accepted %q, the library refused it (%v)", s, err)
	}
	if lib.Type != fast.Type || lib.Nsp != fast.Nsp {
		t.Fatalf("%q: type/nsp %v %q, library %v %q", s, fast.Type, fast.Nsp, lib.Type, lib.Nsp)
	}
	fn, fid, fp := normalized(t, fast)
	ln, lid, lp := normalized(t, lib)
	if fn != ln || !reflect.DeepEqual(fid, lid) || !reflect.DeepEqual(fp, lp) {
		t.Fatalf("%q:\nfast    %q %v %#v\nlibrary %q %v %#v", s, fn, fid, fp, ln, lid, lp)
	}
}

var fastCorpus = []string{
	`2["ydoc:document:update",{"document_id":"note:1","update":[1,2,3]}]`,
	`27["ydoc:document:update",{"document_id":"note:1","user_id":"u","update":[0,255,7],"socket_id":"s"}]`,
	`2 ["ydoc:document:update",{"update":[1]}]`,
	`2[ "ydoc:document:update" , { "update" : [ 1 , 2 ] } ]`,
	`2["ydoc:document:update",{"update":[1,2],"update":[3]}]`,
	`2["ydoc:document:update",{"update":[]}]`,
	`2["ydoc:document:update",{"update":[ ]}]`,
	"2[\"ydoc:document:update\",{\"update\":[\n1,\t2 ,\r3\n]}]",
	`2["ydoc:document:update",{"update":[0,0,10,200,255]}]`,
	`2["ydoc:document:update",{"update":[1,[2]]}]`,
	`2["ydoc:document:update",{"update":[1,"2"]}]`,
	`2["ydoc:document:update",{"update":[1,true]}]`,
	`2["ydoc:document:update",{"update":[256]}]`,
	`2["ydoc:document:update",{"update":[1.5]}]`,
	`2["ydoc:document:update",{"update":[1e2]}]`,
	`2["ydoc:document:update",{"update":[-1]}]`,
	`2["ydoc:document:update",{"update":"AQI="}]`,
	`2["ydoc:document:update",{"update":null}]`,
	`2["ydoc:document:update",{"update":{"0":1}}]`,
	`2["ydoc:document:update",{"document_id":"\u00e9\ud800x","update":[1]}]`,
	`2["ydoc:document:update",{"n":1e400,"update":[1]}]`,
	`2["ydoc:document:update",{"update":[1]}]trailing`,
	`2["ydoc:document:update", {"update":[1]} ]`,
	`2["ydoc:document:update",null]`,
	`2["ydoc:document:update",{"update":[1]}]]`,
	`2["ydoc:document:update",{"update":[1]},]`,
	`2["ydoc:document:update",{"update":[1]}] `,
	`2["ydoc:document:update",{"document_id":"a\"b\\","update":[1]}]`,
	"2[\"ydoc:document:update\",{\"document_id\":\"\xff\xfe\",\"update\":[1]}]",
	`2["ydoc:document:update",{"document_id":"note:1","n":3,"o":{"a":[1]},"update":[1]}]`,
	`2["ydoc:document:update",{"update":[1]},3]`,
	`2["ydoc:document:update"]`,
	`2["ydoc:document:update",[1,2]]`,
	`2["ydoc:document:update","x"]`,
	`2["ydoc:document:state",{"document_id":"note:1"}]`,
	`2["connect",{"update":[1]}]`,
	`2/admin,["ydoc:document:update",{"update":[1]}]`,
	`299999999999999999999["ydoc:document:update",{"update":[1]}]`,
	`218446744073709551615["ydoc:document:update",{"update":[1]}]`,
	`218446744073709551616["ydoc:document:update",{"update":[1]}]`,
	`2[1,{"update":[1]}]`,
	`2["ydoc:document:update",{"update":[1,2]`,
	`2`, `2[`, `3[]`, `5-["ydoc:document:update",{"update":{"_placeholder":true,"num":0}}]`,
	`2["ydoc:document:update",{"update":[` + strings.Repeat("1,", 10000) + `1]}]`,
}

func TestFastUpdateAgreesWithLibrary(t *testing.T) {
	t.Parallel()
	taken := 0
	for _, s := range fastCorpus {
		checkAgrees(t, s)
		if fastUpdate([]byte(s)) != nil {
			taken++
		}
	}
	if taken < 8 {
		t.Errorf("the fast path took only %d of the corpus's ordinary updates", taken)
	}
	// The common form, as socket.io-client sends it, and in a StringBuffer.
	text, _ := textBytes(types.NewStringBufferString(fastCorpus[1]))
	if p := fastUpdate(text); p == nil || *p.Id != 7 {
		t.Errorf("a StringBuffer update was not decoded: %v", p)
	}
}

func FuzzFastUpdate(f *testing.F) {
	for _, s := range fastCorpus {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkAgrees(t, s) })
}

// BenchmarkFastUpdate: the packet a client sends per keystroke (bench S2's
// form: a note id and a 15-byte update).
func BenchmarkFastUpdate(b *testing.B) {
	pkt := []byte(`21["ydoc:document:update",{"document_id":"note:0b7c5e9a-3f1d-4c2e-9a6b-2d8e7f1c4a90","update":[1,1,200,138,226,169,6,3,132,200,138,226,169,6,2]}]`)
	b.ReportAllocs()
	for b.Loop() {
		if fastUpdate(pkt) == nil {
			b.Fatal("not taken")
		}
	}
}
