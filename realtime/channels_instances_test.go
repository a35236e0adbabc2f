package realtime_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/internal/redistest"
	"github.com/quire/quire/internal/syncbuf"
	"github.com/quire/quire/realtime"
	"github.com/quire/quire/storage"
)

// hangGuard only keeps a broken test from hanging.
const hangGuard = 20 * time.Second

// redisInstances makes the Redis brokers of one deployment (a prefix of
// the test's own); cfg adjusts each one's configuration.
func redisInstances(t *testing.T, cfg func(*realtime.RedisBrokerConfig)) func(instance string) *realtime.RedisBroker {
	client := redistest.Client(t)
	prefix := redistest.Prefix(t, client)
	return func(instance string) *realtime.RedisBroker {
		c := realtime.RedisBrokerConfig{Client: client, Prefix: prefix, Instance: instance}
		if cfg != nil {
			cfg(&c)
		}
		b, err := realtime.NewRedisBroker(c)
		require.NoError(t, err)
		return b
	}
}

// onMessage is a BrokerHandler that calls f with every message.
type onMessage func(realtime.Message)

func (f onMessage) HandleMessage(m realtime.Message) { f(m) }
func (onMessage) HandleCommand(realtime.Command)     {}

// A member added on instance A whose socket is on instance B, where no
// socket was in the channel's room (so B did not subscribe it), gets the
// message A posts right after JoinChannel. B handles the join only once A
// waits for it, or, had JoinChannel returned without waiting, once the
// message is in Redis: then B subscribed the room too late and the
// message was lost for its socket.
func TestJoinChannelReachesEveryInstance(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	instance := redisInstances(t, nil)
	brokerA := instance("a")
	waiting := make(chan struct{})
	var once sync.Once
	realtime.OnCommandWait(brokerA, func([]string) { once.Do(func() { close(waiting) }) })
	b := setup(t, func(c *realtime.Config) { c.Broker, c.Instance = brokerA, "a" })
	peer, peerURL := addInstance(t, b, instance("b"), "b")
	owner, stranger := b.users["owner"], b.users["stranger"]
	ch := b.privateGroup(t, "g", storage.ChannelMember{UserID: owner.ID, Role: storage.MemberManager})
	room := "channel:" + ch.ID

	// Instance c sees the channel's messages once Redis has them.
	published := make(chan struct{})
	var pubOnce sync.Once
	observer := instance("c")
	require.NoError(t, observer.Start(ctx, onMessage(func(realtime.Message) { pubOnce.Do(func() { close(published) }) })))
	t.Cleanup(func() { _ = observer.Stop(ctx) })
	require.NoError(t, observer.Subscribe(ctx, room))

	fenced := make(chan struct{})
	realtime.OnRoomCommand(peer, func(c realtime.Command) {
		if c.Room == "fence" {
			close(fenced)
			return
		}
		select {
		case <-waiting:
		case <-published:
		case <-time.After(hangGuard):
		}
	})

	// The sockets on B: the new member's first (reader and writer are no members).
	step := script(t, "channels.mjs", peerURL, ch.ID, b.tokens["stranger"], b.tokens["reader"], b.tokens["writer"])
	step("show") // connected, in their user:<id> rooms
	require.NoError(t, b.store.AddChannelMembers(ctx, ch.ID, []storage.ChannelMember{{UserID: stranger.ID}}))
	b.srv.JoinChannel(ch.ID, []string{stranger.ID})
	b.srv.EmitChannel(ch.ID, []byte(`{"channel_id":"`+ch.ID+`","message_id":"m1","data":{"type":"message","data":{}}}`), owner.ID)
	// B handles the fence after the join and the message (one publisher's order).
	require.NoError(t, brokerA.Command(ctx, realtime.Command{Kind: realtime.CommandLeaveRoom, Room: "fence"}))
	select {
	case <-fenced:
	case <-time.After(hangGuard):
		t.Fatal("instance b never handled the fence")
	}
	got := step("show")
	var types []any
	for _, e := range seen(t, got, 0) {
		types = append(types, e["type"])
	}
	require.Equal(t, []any{"channel:created", "message"}, types, "the new member's socket on instance b")
	require.Empty(t, seen(t, got, 1))
	require.Empty(t, seen(t, got, 2))
}

// An instance that stops while it handles JoinChannel's command is not
// waited for: once the peer set no longer lists it, JoinChannel returns
// and says so in the log. The wait's own bound is far away, so only the
// peer set can end it.
func TestJoinChannelWithAnInstanceStopping(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	instance := redisInstances(t, func(c *realtime.RedisBrokerConfig) {
		c.PeerBeat, c.PeerTTL, c.CommandTimeout = 20*time.Millisecond, 300*time.Millisecond, time.Hour
	})
	var logs syncbuf.Buffer
	b := setup(t, func(c *realtime.Config) {
		c.Broker, c.Instance = instance("a"), "a"
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	})
	brokerB := instance("b")
	peer, _ := addInstance(t, b, brokerB, "b")
	entered, release := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { close(release) }) // before the instances stop
	realtime.OnRoomCommand(peer, func(realtime.Command) {
		close(entered)
		<-release
	})

	returned := make(chan struct{})
	go func() {
		defer close(returned)
		b.srv.JoinChannel("c1", []string{b.users["stranger"].ID})
	}()
	select {
	case <-entered:
	case <-time.After(hangGuard):
		t.Fatal("instance b never got the command")
	}
	stopCtx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	go func() { _ = brokerB.Stop(stopCtx) }() // leaves the peer set; its handler is still busy
	select {
	case <-returned:
	case <-time.After(hangGuard):
		t.Fatal("JoinChannel still waits for a stopped instance")
	}
	require.Contains(t, logs.String(), "broker command not confirmed by every instance")
	require.Contains(t, logs.String(), "stopped meanwhile: [b]")
}
