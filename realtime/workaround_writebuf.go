package realtime

import (
	"reflect"
	"sync"
	"unsafe"

	ws "github.com/gorilla/websocket"
)

// Workaround for zishang520/socket.io v3.0.5's websocket upgrade: its
// gorilla Upgrader sets WriteBufferSize (1 KB) and no WriteBufferPool, so
// every connection keeps a 1,038-byte frame buffer (1,152 bytes allocated)
// for its whole life, idle or not; gorilla's pooled mode (a buffer taken
// for each message and given back when it ends) cannot be asked for from
// outside. useWriteBufferPool switches a connection to that mode before it
// writes anything: the buffer it holds is dropped and writePool set, both
// private fields of gorilla's Conn reached by offset, checked by name and
// type at start-up. Should gorilla change them, nothing is done (the
// connection keeps its buffer; TestWriteBufferPool fails). Everything of
// it lives here; when the library lets its Upgrader take a pool, delete
// this file and its call in wsTransportCtor.New.

// writeBufPool holds the frame buffers of connections between messages.
// *sync.Pool is a ws.BufferPool; gorilla puts and takes its own values.
var writeBufPool = new(sync.Pool)

var gorillaWriteFields = func() (f struct {
	buf, pool uintptr
	ok        bool
}) {
	typ := reflect.TypeFor[ws.Conn]()
	buf, ok1 := typ.FieldByName("writeBuf")
	pool, ok2 := typ.FieldByName("writePool")
	if !ok1 || !ok2 || buf.Type != reflect.TypeFor[[]byte]() || pool.Type != reflect.TypeFor[ws.BufferPool]() {
		return f
	}
	f.buf, f.pool, f.ok = buf.Offset, pool.Offset, true
	return f
}()

// useWriteBufferPool makes c take its frame buffer from writeBufPool for
// each message; false if it could not. Call it before c writes, from the
// goroutine that will start its writers.
func useWriteBufferPool(c *ws.Conn) bool {
	if c == nil || !gorillaWriteFields.ok {
		return false
	}
	p := unsafe.Pointer(c)
	pool := (*ws.BufferPool)(unsafe.Add(p, gorillaWriteFields.pool))
	if *pool != nil {
		return true // already pooled
	}
	*pool = writeBufPool
	*(*[]byte)(unsafe.Add(p, gorillaWriteFields.buf)) = nil
	return true
}
