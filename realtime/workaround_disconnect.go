package realtime

import (
	"github.com/zishang520/socket.io/servers/engine/v3/transports"
	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// Workaround for a defect of zishang520/socket.io v3.0.5's polling
// transport: a server-side Disconnect(true) writes the Socket.IO
// DISCONNECT and closes the engine connection at once. The transport's
// writes are queued (the reference server's are not), so when no long-poll
// is pending the CLOSE packet goes in the same response as the DISCONNECT;
// socket.io-client handles a decoded packet a tick after the CLOSE, so a
// kicked client hears "transport close" and reconnects, instead of "io
// server disconnect", on which it stays disconnected. Everything of it
// lives here; when the library is fixed, delete this file and call
// l.sock.Disconnect(true) in librarySocket.bye instead.
//
// How to tell it is fixed: with that call instead,
// TestKickedPollingClientHearsWhy/polling passes (on v3.0.5 every socket
// heard "transport close": 4 of 4, in 3 runs of 3).

// disconnectThenClose sends sock's client a DISCONNECT and closes the
// engine connection only once that is written.
func disconnectThenClose(sock *socket.Socket) {
	eng := sock.Conn()
	// An Engine.IO message "1": Socket.IO's DISCONNECT for "/".
	eng.Write(types.NewStringBufferString("1"), nil, func(transports.Transport) { eng.Close(false) })
}
