package realtime_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

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
// broker's channels (CommandWait's acknowledgements included) is dropped,
// and what follows still arrives.
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
		"\x01\x01a\x01x\x01e\x00\x00\x00\x00\x00\xff\xff\xff\xff\x0f", "\x02\x01a", "\x09\x01a",
		// CommandWait's acks: cut short, and whole for a wait nobody has.
		"\x04", "\x04\x01a", "\x04\x01a\x01b", "\x04\x01a\x01b\x02\xff", "\x04\x01a\x01b\x019"} {
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

// blocked is a handler whose commands each wait for release (or end).
type blocked struct {
	*brokertest.Recorder
	entered, release, end chan struct{}
}

func (h blocked) HandleCommand(realtime.Command) {
	h.entered <- struct{}{}
	select {
	case <-h.release:
	case <-h.end:
	}
}

// CommandWait gives up an instance that does not answer, when its context
// ends or after CommandTimeout, and says which one it was.
func TestRedisCommandWaitBounded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	client := redistest.Client(t)
	prefix := redistest.Prefix(t, client)
	start := func(id string, h realtime.BrokerHandler, timeout time.Duration) *realtime.RedisBroker {
		b, err := realtime.NewRedisBroker(realtime.RedisBrokerConfig{Client: client, Prefix: prefix, Instance: id, CommandTimeout: timeout})
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Start(ctx, h); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.Stop(ctx) })
		return b
	}
	h := blocked{brokertest.NewRecorder(), make(chan struct{}), make(chan struct{}), make(chan struct{})}
	start("b", h, 0)
	t.Cleanup(func() { close(h.end) }) // before b stops
	a := start("a", brokertest.NewRecorder(), time.Hour)
	cmd := realtime.Command{Kind: realtime.CommandAccessChanged, NoteID: "n"}

	wctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { errc <- a.CommandWait(wctx, cmd) }()
	<-h.entered
	cancel()
	err := <-errc
	if !errors.Is(err, realtime.ErrUnconfirmed) || !strings.Contains(err.Error(), "no answer from: [b]") {
		t.Fatalf("CommandWait with its context ended while b handles the command: %v, want ErrUnconfirmed naming b", err)
	}
	h.release <- struct{}{}

	short := start("short", brokertest.NewRecorder(), 100*time.Millisecond)
	go func() { errc <- short.CommandWait(ctx, cmd) }()
	<-h.entered
	if err := <-errc; !errors.Is(err, realtime.ErrUnconfirmed) {
		t.Fatalf("CommandWait past CommandTimeout: %v, want ErrUnconfirmed", err)
	}
	h.release <- struct{}{}
}
