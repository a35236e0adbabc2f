package realtime

import (
	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// Workaround for zishang520/socket.io v3.0.5's event emitters
// (pkg/types/events.go): each keeps its listeners in a copy of sync.Map
// (pkg/types/map.go), whose entries added since the last promotion live in
// a second, "dirty" map beside the read-only one until enough lookups have
// missed. A connection's emitters are filled once, at connect, and an idle
// connection then sees too few events to promote them, so each keeps two
// maps. compactEmitters forces the promotion (one missed lookup per entry,
// through the public Listeners), leaving one map each. Nothing else changes:
// a listener added later starts a new dirty map as before. When the library
// stops keeping both, delete this file and its call in onConnection.

// missingEvent is looked up to miss: no one listens to it.
const missingEvent = "\x00quire-compact"

// compactEmitters promotes the listener maps of a connected socket's
// emitters: the Socket.IO socket, its engine socket, the engine's
// transport and the websocket connection under it.
func compactEmitters(sock *socket.Socket) {
	compactEmitter(sock.StrictEventEmitter, 32) // more than the events it listens to
	es := sock.Conn()
	if es == nil {
		return
	}
	emitters := []types.EventEmitter{es}
	if t := es.Transport(); t != nil {
		emitters = append(emitters, t)
	}
	if ctx := es.Request(); ctx != nil && ctx.Websocket != nil {
		emitters = append(emitters, ctx.Websocket)
	}
	for _, e := range emitters {
		compactEmitter(e, e.Len()+1)
	}
}

// compactEmitter makes misses lookups that miss e's listener map: at least
// one per entry promotes its dirty map.
func compactEmitter[E interface {
	Listeners(E2) []types.EventListener
}, E2 ~string](e E, misses int) {
	for range misses {
		_ = e.Listeners(missingEvent)
	}
}
