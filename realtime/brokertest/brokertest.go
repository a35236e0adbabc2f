// Package brokertest is the conformance suite every realtime.Broker
// implementation passes: the memory broker always, the Redis broker
// against a real Redis with a key prefix of its own per run.
package brokertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/quire/quire/realtime"
)

// NewCluster returns a constructor of brokers that share one bus (one
// Redis prefix, one MemoryBus): each call with a new instance id is
// another server of the same deployment. The suite stops what it makes.
type NewCluster func(t *testing.T) func(instance string) realtime.Broker

// waitFor bounds waits for remote delivery; it only guards a hang.
const waitFor = 20 * time.Second

// Recorder is a BrokerHandler that keeps what it receives.
type Recorder struct {
	mu       sync.Mutex
	msgs     []realtime.Message
	cmds     []realtime.Command
	notified chan struct{}
}

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder { return &Recorder{notified: make(chan struct{}, 1)} }

// HandleMessage implements realtime.BrokerHandler.
func (r *Recorder) HandleMessage(m realtime.Message) {
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	r.mu.Unlock()
	r.notify()
}

// HandleCommand implements realtime.BrokerHandler.
func (r *Recorder) HandleCommand(c realtime.Command) {
	r.mu.Lock()
	r.cmds = append(r.cmds, c)
	r.mu.Unlock()
	r.notify()
}

func (r *Recorder) notify() {
	select {
	case r.notified <- struct{}{}:
	default:
	}
}

// Messages is a copy of what arrived so far.
func (r *Recorder) Messages() []realtime.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.msgs)
}

// Commands is a copy of what arrived so far.
func (r *Recorder) Commands() []realtime.Command {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.cmds)
}

// WaitMessages waits until at least n messages arrived, then returns them.
func (r *Recorder) WaitMessages(t testing.TB, n int) []realtime.Message {
	t.Helper()
	return waitLen(t, r, "messages", n, r.Messages)
}

// WaitCommands waits until at least n commands arrived, then returns them.
func (r *Recorder) WaitCommands(t testing.TB, n int) []realtime.Command {
	t.Helper()
	return waitLen(t, r, "commands", n, r.Commands)
}

func waitLen[T any](t testing.TB, r *Recorder, what string, n int, got func() []T) []T {
	t.Helper()
	deadline := time.After(waitFor)
	for {
		if g := got(); len(g) >= n {
			return g
		}
		select {
		case <-r.notified:
		case <-deadline:
			t.Fatalf("waited for %d %s, have %d", n, what, len(got()))
		}
	}
}

// Run runs the suite.
func Run(t *testing.T, newCluster NewCluster) {
	ctx := context.Background()
	// start makes a started instance with a Recorder, stopped at cleanup.
	start := func(t *testing.T, instance func(string) realtime.Broker, id string) (realtime.Broker, *Recorder) {
		t.Helper()
		b := instance(id)
		rec := NewRecorder()
		if err := b.Start(ctx, rec); err != nil {
			t.Fatalf("Start: %v", err)
		}
		t.Cleanup(func() { _ = b.Stop(ctx) })
		return b, rec
	}
	must := func(t *testing.T, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	msg := func(room string, i int) realtime.Message {
		return realtime.Message{Room: room, Event: "ev", Payload: fmt.Appendf(nil, `{"i":%d}`, i)}
	}

	t.Run("LocalDeliveryBeforePublishReturns", func(t *testing.T) {
		t.Parallel()
		a, rec := start(t, newCluster(t), "a")
		must(t, a.Subscribe(ctx, "doc_note:1"))
		for i := range 50 {
			must(t, a.Publish(ctx, msg("doc_note:1", i)))
			if got := rec.Messages(); len(got) != i+1 {
				t.Fatalf("after Publish %d returned the local handler had %d messages", i, len(got))
			}
		}
	})

	t.Run("FieldsArriveAsPublished", func(t *testing.T) {
		t.Parallel()
		cl := newCluster(t)
		a, recA := start(t, cl, "a")
		b, recB := start(t, cl, "b")
		all := make([]byte, 256)
		for i := range all {
			all[i] = byte(i)
		}
		want := realtime.Message{
			Room: "channel:é ü/\x01", Event: "ydoc:document:update",
			Payload:     []byte(`{"update":[1,2,3],"text":"\u00e9\n"}`),
			Attachments: [][]byte{all, {}, {0}},
			Except:      "sid-1",
			Origin:      realtime.Origin{Instance: "a", SID: "sid-1", UserID: "user-1"},
		}
		must(t, a.Subscribe(ctx, want.Room))
		must(t, b.Subscribe(ctx, want.Room))
		must(t, a.Publish(ctx, want))
		for name, rec := range map[string]*Recorder{"a": recA, "b": recB} {
			got := rec.WaitMessages(t, 1)
			if len(got) != 1 || !sameMessage(got[0], want) {
				t.Fatalf("instance %s received %+v, want %+v", name, got, want)
			}
		}
		empty := realtime.Message{Room: "r", Event: "e", Payload: []byte(`{}`)}
		must(t, a.Subscribe(ctx, "r"))
		must(t, b.Subscribe(ctx, "r"))
		must(t, a.Publish(ctx, empty))
		if got := recB.WaitMessages(t, 2)[1]; !sameMessage(got, empty) || got.Attachments != nil {
			t.Fatalf("received %+v, want %+v with nil attachments", got, empty)
		}
	})

	t.Run("OnlySubscribedInstancesReceive", func(t *testing.T) {
		t.Parallel()
		cl := newCluster(t)
		a, _ := start(t, cl, "a")
		b, recB := start(t, cl, "b")
		_, recC := start(t, cl, "c")
		must(t, b.Subscribe(ctx, "x"))
		must(t, b.Subscribe(ctx, "fence"))
		must(t, a.Publish(ctx, msg("y", 0)))     // nobody subscribes
		must(t, a.Publish(ctx, msg("x", 1)))     // b only
		must(t, a.Publish(ctx, msg("fence", 2))) // one publisher's order holds across rooms
		got := recB.WaitMessages(t, 2)
		if len(got) != 2 || got[0].Room != "x" || got[1].Room != "fence" {
			t.Fatalf("b received %v, want x then fence", rooms(got))
		}
		if n := len(recC.Messages()); n != 0 {
			t.Fatalf("c subscribes to nothing but received %d messages", n)
		}
	})

	t.Run("UnsubscribeStopsDelivery", func(t *testing.T) {
		t.Parallel()
		cl := newCluster(t)
		a, recA := start(t, cl, "a")
		b, recB := start(t, cl, "b")
		must(t, b.Subscribe(ctx, "x"))
		must(t, b.Subscribe(ctx, "x")) // idempotent
		must(t, b.Subscribe(ctx, "fence"))
		must(t, a.Subscribe(ctx, "x"))
		must(t, a.Publish(ctx, msg("x", 0)))
		recB.WaitMessages(t, 1)
		must(t, b.Unsubscribe(ctx, "x"))
		must(t, b.Unsubscribe(ctx, "x")) // idempotent
		must(t, b.Unsubscribe(ctx, "never-subscribed"))
		must(t, a.Publish(ctx, msg("x", 1)))
		must(t, a.Publish(ctx, msg("fence", 2)))
		got := recB.WaitMessages(t, 2)
		if len(got) != 2 || got[1].Room != "fence" {
			t.Fatalf("b received %v after unsubscribing from x, want x then fence", rooms(got))
		}
		if n := len(recA.Messages()); n != 2 {
			t.Fatalf("a, still subscribed, has %d of its 2 messages to x", n)
		}
	})

	t.Run("OrderPerPublisherAndExactlyOnce", func(t *testing.T) {
		t.Parallel()
		cl := newCluster(t)
		const publishers, perPublisher = 4, 250
		var pubs []realtime.Broker
		for i := range publishers {
			p, _ := start(t, cl, fmt.Sprintf("p%d", i))
			pubs = append(pubs, p)
		}
		sub, rec := start(t, cl, "sub")
		for i := range publishers {
			must(t, sub.Subscribe(ctx, fmt.Sprintf("room%d", i%2)))
			must(t, pubs[i].Subscribe(ctx, fmt.Sprintf("room%d", i%2))) // a local subscriber too
		}
		var wg sync.WaitGroup
		errs := make(chan error, publishers)
		for i, p := range pubs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range perPublisher {
					m := realtime.Message{Room: fmt.Sprintf("room%d", (i+j)%2), Event: "ev",
						Payload: fmt.Appendf(nil, `[%d,%d]`, i, j), Origin: realtime.Origin{Instance: fmt.Sprintf("p%d", i)}}
					if err := p.Publish(ctx, m); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		got := rec.WaitMessages(t, publishers*perPublisher)
		next := make([]int, publishers)
		for _, m := range got {
			var i, j int
			if _, err := fmt.Sscanf(string(m.Payload), "[%d,%d]", &i, &j); err != nil {
				t.Fatalf("payload %q: %v", m.Payload, err)
			}
			if j != next[i] {
				t.Fatalf("publisher %d: got message %d, want %d (lost, repeated or reordered)", i, j, next[i])
			}
			next[i]++
		}
		if len(got) != publishers*perPublisher {
			t.Fatalf("received %d messages, want %d", len(got), publishers*perPublisher)
		}
	})

	t.Run("CommandsReachEveryInstance", func(t *testing.T) {
		t.Parallel()
		cl := newCluster(t)
		a, recA := start(t, cl, "a")
		_, recB := start(t, cl, "b")
		c1 := realtime.Command{Kind: realtime.CommandDisconnectUser, UserID: "u1", Origin: realtime.Origin{Instance: "a", UserID: "admin"}}
		c2 := realtime.Command{Kind: realtime.CommandAccessChanged, NoteID: "n1", Origin: realtime.Origin{Instance: "a"}}
		// Room and UserIDs (join/leave a room) arrive as sent, in order.
		c3 := realtime.Command{Kind: realtime.CommandJoinRoom, Room: "channel:c1", UserIDs: []string{"u2", "u1", "u3"}, Origin: realtime.Origin{Instance: "a"}}
		// A call's socket, id and payload (bytes as sent), and its reply's.
		c4 := realtime.Command{Kind: realtime.CommandCall, UserID: "u1", SID: "s1", CallID: "a/1",
			Payload: []byte(`{"data":{"type":"input","data":{"title":"é\u0000"}}}`), Origin: realtime.Origin{Instance: "a"}}
		c5 := realtime.Command{Kind: realtime.CommandCallReply, CallID: "a/1", Payload: []byte(`"yes"`), Origin: realtime.Origin{Instance: "a"}}
		want := []realtime.Command{c1, c2, c3, c4, c5}
		for _, c := range want {
			must(t, a.Command(ctx, c))
		}
		for name, rec := range map[string]*Recorder{"a": recA, "b": recB} {
			got := rec.WaitCommands(t, len(want))
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("instance %s received %+v, want %+v", name, got, want)
			}
		}
	})

	t.Run("CommandWaitReturnsAfterEveryHandler", func(t *testing.T) {
		t.Parallel()
		cl := newCluster(t)
		a, _ := start(t, cl, "a")
		// b and c subscribe to a room when they handle the command, as a
		// server joining sockets to a room does.
		var recs []*Recorder
		for _, id := range []string{"b", "c"} {
			br, rec := cl(id), NewRecorder()
			must(t, br.Start(ctx, subscriber{rec, br}))
			t.Cleanup(func() { _ = br.Stop(ctx) })
			recs = append(recs, rec)
		}
		d, _ := start(t, cl, "d")
		must(t, d.Stop(ctx)) // stopped: not waited for
		wctx, cancel := context.WithTimeout(ctx, waitFor)
		defer cancel()
		c := realtime.Command{Kind: realtime.CommandJoinRoom, Room: "r", UserIDs: []string{"u1"}}
		must(t, a.CommandWait(wctx, c))
		for i, rec := range recs {
			if n := len(rec.Commands()); n != 1 {
				t.Fatalf("instance %d had handled %d commands when CommandWait returned, want 1", i, n)
			}
		}
		must(t, a.Publish(ctx, msg("r", 0)))
		for _, rec := range recs {
			rec.WaitMessages(t, 1)
		}
	})

	t.Run("StopEndsDelivery", func(t *testing.T) {
		t.Parallel()
		cl := newCluster(t)
		a, _ := start(t, cl, "a")
		b, recB := start(t, cl, "b")
		must(t, b.Subscribe(ctx, "x"))
		must(t, b.Stop(ctx))
		must(t, b.Stop(ctx)) // idempotent
		for name, err := range map[string]error{
			"Publish":   b.Publish(ctx, msg("x", 0)),
			"Command":   b.Command(ctx, realtime.Command{Kind: realtime.CommandAccessChanged, NoteID: "n"}),
			"Subscribe": b.Subscribe(ctx, "y"),
		} {
			if !errors.Is(err, realtime.ErrBrokerStopped) {
				t.Fatalf("%s after Stop: %v, want ErrBrokerStopped", name, err)
			}
		}
		// The others go on; the stopped one receives nothing more.
		c, recC := start(t, cl, "c")
		must(t, c.Subscribe(ctx, "x"))
		must(t, a.Publish(ctx, msg("x", 1)))
		recC.WaitMessages(t, 1)
		if n := len(recB.Messages()); n != 0 {
			t.Fatalf("stopped instance received %d messages", n)
		}
	})

	t.Run("RefusesBadCalls", func(t *testing.T) {
		t.Parallel()
		cl := newCluster(t)
		a := cl("a")
		t.Cleanup(func() { _ = a.Stop(ctx) })
		if err := a.Start(ctx, nil); err == nil {
			t.Fatal("Start with a nil handler succeeded")
		}
		must(t, a.Start(ctx, NewRecorder()))
		if err := a.Start(ctx, NewRecorder()); err == nil {
			t.Fatal("a second Start succeeded")
		}
		if err := a.Publish(ctx, realtime.Message{Event: "e"}); err == nil {
			t.Fatal("Publish with no room succeeded")
		}
	})
}

// subscriber subscribes to a command's Room, then records the command.
type subscriber struct {
	*Recorder
	b realtime.Broker
}

func (s subscriber) HandleCommand(c realtime.Command) {
	if err := s.b.Subscribe(context.Background(), c.Room); err != nil {
		panic(err)
	}
	s.Recorder.HandleCommand(c)
}

func sameMessage(a, b realtime.Message) bool {
	if a.Room != b.Room || a.Event != b.Event || !bytes.Equal(a.Payload, b.Payload) ||
		a.Except != b.Except || a.Origin != b.Origin || len(a.Attachments) != len(b.Attachments) {
		return false
	}
	for i := range a.Attachments {
		if !bytes.Equal(a.Attachments[i], b.Attachments[i]) {
			return false
		}
	}
	return true
}

func rooms(ms []realtime.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Room
	}
	return out
}
