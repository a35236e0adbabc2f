package realtime_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/quire/quire/internal/redistest"
	"github.com/quire/quire/realtime"
)

// counter is a BrokerHandler that counts messages and signals when a
// number is reached.
type counter struct {
	n    atomic.Int64
	want int64
	done chan struct{}
}

func (c *counter) HandleMessage(realtime.Message) {
	if c.n.Add(1) == c.want {
		close(c.done)
	}
}
func (c *counter) HandleCommand(realtime.Command) {}

// BenchmarkRedisHop is the cost of the Redis hop per document update: one
// instance publishes b.N updates of a typical size (a keystroke's update
// relayed as Quire relays it: ~40 bytes as a JSON array of numbers) to a
// document room another instance subscribes to, and the clock stops when
// the other has received them all. "memory" is the same through the
// memory bus (in-process, what one instance costs). Run:
//
//	go test ./realtime -run '^$' -bench RedisHop -benchtime 20000x
func BenchmarkRedisHop(b *testing.B) {
	payload := []byte(`{"document_id":"note:00000000-0000-0000-0000-000000000000","user_id":"u","update":[1,1,200,150,180,237,12,0,4,1,11,112,114,111,115,101,109,105,114,114,111,114,1,120,0],"socket_id":"abcdefghij"}`)
	run := func(b *testing.B, a, peer realtime.Broker) {
		ctx := context.Background()
		c := &counter{want: int64(b.N), done: make(chan struct{})}
		if err := peer.Start(ctx, c); err != nil {
			b.Fatal(err)
		}
		defer peer.Stop(ctx)
		if err := a.Start(ctx, &counter{want: -1}); err != nil {
			b.Fatal(err)
		}
		defer a.Stop(ctx)
		room := "doc_note:bench"
		if err := peer.Subscribe(ctx, room); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(payload)))
		b.ResetTimer()
		for range b.N {
			if err := a.Publish(ctx, realtime.Message{Room: room, Event: "ydoc:document:update", Payload: payload,
				Except: "abcdefghij", Origin: realtime.Origin{Instance: "a", SID: "abcdefghij", UserID: "u"}}); err != nil {
				b.Fatal(err)
			}
		}
		<-c.done
	}
	b.Run("memory", func(b *testing.B) {
		bus := realtime.NewMemoryBus()
		run(b, bus.Broker("a"), bus.Broker("b"))
	})
	b.Run("redis", func(b *testing.B) {
		client := redistest.Client(b)
		prefix := redistest.Prefix(b, client)
		mk := func(id string) realtime.Broker {
			br, err := realtime.NewRedisBroker(realtime.RedisBrokerConfig{Client: client, Prefix: prefix, Instance: id})
			if err != nil {
				b.Fatal(err)
			}
			return br
		}
		run(b, mk("a"), mk("b"))
	})
}
