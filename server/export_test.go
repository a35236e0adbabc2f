package server

import "net"

// CapacityFor and NofileLimit expose the derived connection cap to the
// external tests.
var (
	CapacityFor = capacityFor
	NofileLimit = nofileLimit
)

// CapListen listens on addr through the connection-counting listener.
func CapListen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &capListener{Listener: ln}, nil
}
