//go:build !linux

package realtime

// PolledCount is 0: there is no poller off Linux.
func PolledCount() int { return 0 }
