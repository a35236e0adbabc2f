package realtime_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
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

// gapRecorder also counts HandleGap calls.
type gapRecorder struct {
	*brokertest.Recorder
	gaps atomic.Int64
}

func (g *gapRecorder) HandleGap() { g.gaps.Add(1) }

// TestRedisSubscribeWhileRedisHangs: a Redis that hangs (stopped with
// SIGSTOP: its connections stay open and answer nothing) takes a
// subscription but never confirms it. Subscribe serves the room locally
// and returns nil as it does when Redis is away, instead of waiting until
// its context ends (a document join waited the whole 30 s EventTimeout,
// holding every other room's subscription behind it); once Redis answers,
// the late confirmation is reported as a gap, and the room gets the other
// instances' messages.
func TestRedisSubscribeWhileRedisHangs(t *testing.T) {
	t.Parallel()
	srv := redistest.StartPrivate(t)
	rec := &gapRecorder{Recorder: brokertest.NewRecorder()}
	start := func(instance string, h realtime.BrokerHandler) *realtime.RedisBroker {
		b, err := realtime.NewRedisBroker(realtime.RedisBrokerConfig{Client: srv.Client(t), Prefix: "quire:", Instance: instance,
			SubscribeTimeout: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Start(context.Background(), h); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = b.Stop(ctx)
		})
		return b
	}
	a, b := start("a", rec), start("b", brokertest.NewRecorder())

	srv.Pause(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, room := range []string{"x", "y"} {
		if err := a.Subscribe(ctx, room); err != nil {
			t.Fatalf("subscribe %s while Redis hangs: %v, want nil (the room served locally)", room, err)
		}
	}
	if err := a.Publish(ctx, realtime.Message{Room: "x", Event: "local", Payload: []byte(`1`)}); err != nil {
		t.Fatal(err)
	}
	if got := rec.WaitMessages(t, 1); got[0].Event != "local" {
		t.Fatalf("local delivery while Redis hangs: %+v", got)
	}
	if n := rec.gaps.Load(); n != 0 {
		t.Fatalf("%d gaps before Redis answered", n)
	}

	srv.Resume(t)
	waitFor(t, "the late confirmations to be reported as a gap", 20*time.Second, func() bool { return rec.gaps.Load() > 0 })
	for _, room := range []string{"x", "y"} {
		if err := b.Publish(ctx, realtime.Message{Room: room, Event: "remote", Payload: []byte(`2`), Origin: realtime.Origin{Instance: "b"}}); err != nil {
			t.Fatal(err)
		}
	}
	got := rec.WaitMessages(t, 3)
	if len(got) != 3 || got[1].Event != "remote" || got[2].Event != "remote" || got[1].Room == got[2].Room {
		t.Fatalf("after Redis answered again: %+v, want b's message in x and in y", got)
	}
}
