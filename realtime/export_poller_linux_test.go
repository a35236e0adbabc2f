package realtime

// PollerViaNetpoller reports whether the websocket poller has taken
// readiness events through the runtime's netpoller (epoll_linux.go).
func PollerViaNetpoller() bool {
	p := sharedPoller()
	return p != nil && p.viaNetpoller.Load()
}
