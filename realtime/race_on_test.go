//go:build race

package realtime_test

// raceEnabled: the race detector is on (see skipPollingUnderRace).
const raceEnabled = true
