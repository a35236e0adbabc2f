package realtime_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// equalJSON compares two values by their JSON encoding's decoded form.
func equalJSON(a, b any) bool {
	var x, y any
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	_ = json.Unmarshal(ja, &x)
	_ = json.Unmarshal(jb, &y)
	return reflect.DeepEqual(x, y)
}

// skipPollingUnderRace: the library's polling transport has a data race of
// its own (types.HttpContext.closeWithError reads what
// transports.polling.onPollRequest writes, v3.0.5), which fails any -race
// run that uses polling. Websocket (our default) is race-free.
func skipPollingUnderRace(t interface{ Skip(...any) }) {
	if raceEnabled {
		t.Skip("zishang520 v3.0.5 polling transport races internally")
	}
}

// eachTransport runs f as a parallel subtest on a websocket and, but under
// -race, on polling.
func eachTransport(t *testing.T, f func(t *testing.T, transport string)) {
	for _, transport := range []string{"websocket", "polling"} {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			if transport == "polling" {
				skipPollingUnderRace(t)
			}
			f(t, transport)
		})
	}
}

// socketURL is the websocket address of the server at base (http://…).
func socketURL(base string) string {
	return "ws" + strings.TrimPrefix(base, "http") + "/ws/socket.io/?EIO=4&transport=websocket"
}
