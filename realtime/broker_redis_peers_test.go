package realtime_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quire/quire/internal/redistest"
	"github.com/quire/quire/realtime"
	"github.com/quire/quire/realtime/brokertest"
)

// goneRecorder records the instances a broker reports gone.
type goneRecorder struct {
	*brokertest.Recorder
	gone chan string
}

func (g goneRecorder) HandlePeerGone(instance string) { g.gone <- instance }

// TestRedisPeersSurviveALostSet: Redis restarted empty (the instances set
// lost) is not the death of every other instance. A peer that beats again
// within PeerTTL is never reported gone; one that stops beating is, after
// PeerTTL. Before, the first beat after the loss reported every peer that
// had not beaten again yet as gone (removing its sockets' cursors on every
// other instance and resynchronising every live document).
func TestRedisPeersSurviveALostSet(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	client := redistest.Client(t)
	prefix := redistest.Prefix(t, client)
	key := prefix + "instances"
	const ttl = 3 * time.Second
	a, err := realtime.NewRedisBroker(realtime.RedisBrokerConfig{Client: client, Prefix: prefix, Instance: "a",
		PeerBeat: 20 * time.Millisecond, PeerTTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	rec := goneRecorder{brokertest.NewRecorder(), make(chan string, 16)}
	beatP := func() {
		if err := client.ZAdd(ctx, key, redis.Z{Score: float64(time.Now().UnixMilli()), Member: "p"}).Err(); err != nil {
			t.Error(err)
		}
	}
	// afterBeats returns once a has beaten n more times (its score moved).
	afterBeats := func(n int) {
		t.Helper()
		last := client.ZScore(ctx, key, "a").Val()
		for seen := 0; seen < n; {
			select {
			case id := <-rec.gone:
				t.Fatalf("%s reported gone", id)
			case <-time.After(5 * time.Millisecond):
			}
			if s, err := client.ZScore(ctx, key, "a").Result(); err == nil && s != last {
				last, seen = s, seen+1
			}
		}
	}
	beatP()
	if err := a.Start(ctx, rec); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Stop(context.Background()) })
	// p keeps beating while a learns it, for longer than PeerTTL.
	for end := time.Now().Add(ttl + time.Second); time.Now().Before(end); {
		beatP()
		afterBeats(1)
	}

	// Redis loses the set; a beats (and finds p missing) several times
	// before p beats again, within PeerTTL.
	if err := client.Del(ctx, key).Err(); err != nil {
		t.Fatal(err)
	}
	afterBeats(3)
	for end := time.Now().Add(2 * ttl); time.Now().Before(end); {
		beatP()
		afterBeats(1)
	}

	// p stops beating: gone, once.
	select {
	case id := <-rec.gone:
		if id != "p" {
			t.Fatalf("%s reported gone, want p", id)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("p stopped beating and was never reported gone")
	}
}

// TestRedisPeerHeardButNeverSeenBeatingIsGone: an instance killed after
// Redis restarted empty and before it beat again is never seen in the
// set, yet its sockets' cursors are shown on the others. Having been
// heard from, it is reported gone once it stays missing. Before, it was
// never known, so never reported gone: its cursors stayed forever (seen
// in e2e instances-faults, where the kill follows Redis restarts).
func TestRedisPeerHeardButNeverSeenBeatingIsGone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	client := redistest.Client(t)
	prefix := redistest.Prefix(t, client)
	const ttl = time.Second
	// p beats once, at its start, and never again.
	p, err := realtime.NewRedisBroker(realtime.RedisBrokerConfig{Client: client, Prefix: prefix, Instance: "p",
		PeerBeat: time.Hour, PeerTTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(ctx, brokertest.NewRecorder()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop(context.Background()) })
	// Redis loses the set before a starts: a never sees p in it.
	if err := client.Del(ctx, prefix+"instances").Err(); err != nil {
		t.Fatal(err)
	}
	a, err := realtime.NewRedisBroker(realtime.RedisBrokerConfig{Client: client, Prefix: prefix, Instance: "a",
		PeerBeat: 20 * time.Millisecond, PeerTTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	rec := goneRecorder{brokertest.NewRecorder(), make(chan string, 16)}
	if err := a.Start(ctx, rec); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Stop(context.Background()) })
	if err := a.Subscribe(ctx, "doc_x"); err != nil {
		t.Fatal(err)
	}
	if err := p.Publish(ctx, realtime.Message{Room: "doc_x", Event: "ydoc:awareness:update", Payload: []byte(`{}`),
		Origin: realtime.Origin{Instance: "p", SID: "s1"}}); err != nil {
		t.Fatal(err)
	}
	rec.WaitMessages(t, 1)
	select {
	case id := <-rec.gone:
		if id != "p" {
			t.Fatalf("%s reported gone, want p", id)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("p, heard from but never seen beating, was never reported gone")
	}
}
