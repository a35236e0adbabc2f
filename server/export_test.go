package server

// CapacityFor and NofileLimit expose the derived connection cap to the
// external tests.
var (
	CapacityFor = capacityFor
	NofileLimit = nofileLimit
)
