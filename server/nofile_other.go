//go:build !unix

package server

// nofileLimit: unknown here, so no derived connection cap.
func nofileLimit() uint64 { return 0 }
