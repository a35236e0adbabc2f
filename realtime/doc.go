// Package realtime is Quire's Socket.IO endpoint (/ws/socket.io/): it speaks
// the Open WebUI browser protocol (shared/protocol.md §1–§4, §9).
//
// Every CONNECT is accepted; the auth token decides whether the socket is
// authenticated. Each socket's events run strictly in order on a bounded
// per-socket queue whose worker goroutine exists only while there is work, and
// every event that carries an ack id is acknowledged after its effects with
// {"ok":true,…} or {"ok":false,"error":<reason>} (reasons in errors.go).
// Document state, updates and awareness go through the ydoc manager and the
// awareness registry; relayed payloads are serialised once per broadcast.
// Other modules push events to sockets with the emitter (emitter.go) and ask
// one socket a question with Call (call.go), on any instance.
package realtime
