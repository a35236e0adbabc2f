// Package presence tracks who is online: the live sockets of each account and
// when each socket last sent a heartbeat. The Manager interface is small so a
// Redis implementation (several instances) can replace the memory one.
package presence
