package realtime_test

import (
	"context"
	"testing"

	"github.com/quire/quire/internal/redistest"
	"github.com/quire/quire/realtime"
	"github.com/quire/quire/realtime/brokertest"
)

func TestRedisBroker(t *testing.T) {
	t.Parallel()
	client := redistest.Client(t)
	brokertest.Run(t, func(t *testing.T) func(string) realtime.Broker {
		prefix := redistest.Prefix(t, client) // one deployment per case
		return func(instance string) realtime.Broker {
			b, err := realtime.NewRedisBroker(realtime.RedisBrokerConfig{Client: client, Prefix: prefix, Instance: instance})
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	})
}

// TestRedisBrokerMalformedFrames: whatever else is published on the
// broker's channels is dropped, and what follows still arrives.
func TestRedisBrokerMalformedFrames(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	client := redistest.Client(t)
	prefix := redistest.Prefix(t, client)
	b, err := realtime.NewRedisBroker(realtime.RedisBrokerConfig{Client: client, Prefix: prefix, Instance: "b"})
	if err != nil {
		t.Fatal(err)
	}
	rec := brokertest.NewRecorder()
	if err := b.Start(ctx, rec); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Stop(ctx) })
	if err := b.Subscribe(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	for _, junk := range []string{"", "\x01", "\x01\x01a", "\x01\x01a\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
		"\x01\x01a\x01x\x01e\x00\x00\x00\x00\x00\xff\xff\xff\xff\x0f", "\x02\x01a", "\x09\x01a"} {
		for _, ch := range []string{prefix + "room:x", prefix + "commands"} {
			if err := client.Publish(ctx, ch, junk).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	a, err := realtime.NewRedisBroker(realtime.RedisBrokerConfig{Client: client, Prefix: prefix, Instance: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(ctx, brokertest.NewRecorder()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Stop(ctx) })
	want := realtime.Message{Room: "x", Event: "e", Payload: []byte(`{"ok":1}`)}
	if err := a.Publish(ctx, want); err != nil {
		t.Fatal(err)
	}
	got := rec.WaitMessages(t, 1)
	if len(got) != 1 || string(got[0].Payload) != `{"ok":1}` || len(rec.Commands()) != 0 {
		t.Fatalf("after junk frames: messages %+v, commands %+v; want only the good message", got, rec.Commands())
	}
}
