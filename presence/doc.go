// Package presence tracks who is online: the live sockets of each account and
// when each socket last sent a heartbeat, and which models sockets are using
// (the `usage` event, 3 s). The Manager interface is small so a Redis
// implementation (several instances) can replace the memory one; both pass
// presencetest.
package presence
