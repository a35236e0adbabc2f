package realtime

import (
	"reflect"
	"testing"

	"github.com/zishang520/socket.io/v3/pkg/types"
)

// compactEmitter leaves an emitter with one listener map (its dirty map
// promoted) and every listener in place (workaround_emitters.go).
func TestCompactEmitter(t *testing.T) {
	t.Parallel()
	e := types.NewEventEmitter()
	fired := map[string]int{}
	events := []types.EventName{"open", "packet", "close", "error", "drain"}
	for _, ev := range events[:2] {
		_ = e.On(ev, func(...any) { fired[string(ev)]++ })
	}
	for range 4 {
		e.Emit("open") // lookups that promote the first two
	}
	for _, ev := range events[2:] {
		_ = e.Once(ev, func(...any) { fired[string(ev)]++ })
	}
	dirty := func() int {
		return reflect.ValueOf(e).Elem().FieldByName("evtListeners").FieldByName("dirty").Len()
	}
	if dirty() == 0 {
		t.Fatal("no dirty map to begin with: the test is wrong")
	}
	compactEmitter(e, e.Len()+1)
	if n := dirty(); n != 0 {
		t.Fatalf("dirty map of %d entries left", n)
	}
	for _, ev := range events {
		e.Emit(ev)
	}
	for _, ev := range events {
		if want := map[types.EventName]int{"open": 5}[ev]; fired[string(ev)] != max(want, 1) {
			t.Errorf("%s fired %d times", ev, fired[string(ev)])
		}
	}
}
