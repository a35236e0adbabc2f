//go:build !linux

package realtime

// Without epoll every websocket connection has a reader goroutine.

type wsPoller struct{}

func sharedPoller() *wsPoller               { return nil }
func (*wsPoller) add(*wsSocket) bool        { return false }
func (*wsPoller) remove(uint64)             {}
func (*wsPoller) rearm(*wsSocket) error     { return nil }
func (*wsPoller) awaitClose(*wsSocket) bool { return false }
