package realtime

import "syscall"

func init() {
	if IOUringForbidden() {
		ringSetup = func() (*sendRing, error) { return nil, syscall.EPERM }
	}
}
