package realtime

// PolledCount is how many connections the process's poller reads (0
// without one).
func PolledCount() int {
	p := sharedPoller()
	if p == nil {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}
