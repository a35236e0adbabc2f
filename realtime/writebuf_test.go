package realtime

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	ws "github.com/gorilla/websocket"
)

// A connection switched to the write buffer pool holds no frame buffer
// between messages, and every message still arrives whole and in order:
// small, over the 1 KB buffer, and large, text and binary, compressed or
// not (workaround_writebuf.go).
func TestWriteBufferPool(t *testing.T) {
	t.Parallel()
	for _, compress := range []bool{false, true} {
		upgrader := ws.Upgrader{ReadBufferSize: 1024, WriteBufferSize: 1024, EnableCompression: compress} // as the library's
		conns := make(chan *ws.Conn, 1)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := upgrader.Upgrade(w, r, nil)
			if err != nil {
				t.Error(err)
				return
			}
			conns <- c
		}))
		defer srv.Close()
		dialer := ws.Dialer{EnableCompression: compress}
		client, _, err := dialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		client.SetReadLimit(32 << 20)
		server := <-conns
		defer server.Close()

		held := func() int { return reflect.ValueOf(server).Elem().FieldByName("writeBuf").Len() }
		if held() == 0 {
			t.Fatal("the connection holds no buffer to begin with: the test is wrong")
		}
		if !useWriteBufferPool(server) {
			t.Fatal("gorilla's Conn has changed: writeBuf and writePool not found")
		}
		if n := held(); n != 0 {
			t.Fatalf("compress %v: %d bytes held after the switch", compress, n)
		}
		msgs := [][]byte{[]byte("2"), bytes.Repeat([]byte("a"), 1000), bytes.Repeat([]byte("bc"), 700),
			bytes.Repeat([]byte{0, 1, 2, 3}, 64<<10), bytes.Repeat([]byte("xyz"), 16<<20/3), []byte("3")}
		done := make(chan error, 1)
		go func() {
			for i, m := range msgs {
				mt := ws.TextMessage
				if i%2 == 1 {
					mt = ws.BinaryMessage
				}
				server.EnableWriteCompression(compress)
				if err := server.WriteMessage(mt, m); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
		for i, want := range msgs {
			mt, got, err := client.ReadMessage()
			if err != nil {
				t.Fatalf("compress %v, message %d: %v", compress, i, err)
			}
			if wantType := []int{ws.TextMessage, ws.BinaryMessage}[i%2]; mt != wantType || !bytes.Equal(got, want) {
				t.Fatalf("compress %v, message %d: type %d, %d bytes, want type %d, %d bytes", compress, i, mt, len(got), wantType, len(want))
			}
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if n := held(); n != 0 {
			t.Fatalf("compress %v: %d bytes held after writing", compress, n)
		}
	}
}
