package realtime

import "os"

// EmitEachSocket emits event with payload to every local socket in the
// channel's room one socket at a time through the library's own
// Socket.Emit (its encoder, engine socket and transport Send), not the
// room fan-out.
func EmitEachSocket(s *Server, channelID, event string, payload []byte) {
	for _, sid := range s.roomMembers(channelRoom(channelID)) {
		if v, ok := s.conns.Load(sid); ok {
			_ = v.(*conn).sock.emit(event, preEncoded(payload), nil)
		}
	}
}

// BatchedSendsOn reports whether room fan-outs batch their sends here.
func BatchedSendsOn() bool { return sendRingsOn() }

// ForbidIOUringEnv, set in a test process's environment, makes every
// io_uring setup fail there, as on a system that forbids it (seccomp,
// kernel.io_uring_disabled): fan-outs must then write socket by socket.
const ForbidIOUringEnv = "QUIRE_TEST_FORBID_IO_URING"

// IOUringForbidden reports whether ForbidIOUringEnv is set here.
func IOUringForbidden() bool { return os.Getenv(ForbidIOUringEnv) != "" }
