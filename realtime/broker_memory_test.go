package realtime_test

import (
	"testing"

	"github.com/quire/quire/realtime"
	"github.com/quire/quire/realtime/brokertest"
)

func TestMemoryBroker(t *testing.T) {
	t.Parallel()
	brokertest.Run(t, func(t *testing.T) func(string) realtime.Broker {
		bus := realtime.NewMemoryBus()
		return func(instance string) realtime.Broker { return bus.Broker(instance) }
	})
}
