package realtime

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisBrokerConfig configures a RedisBroker.
type RedisBrokerConfig struct {
	// Client is the Redis connection pool; the broker takes one connection
	// for its subscriptions and one at a time for publishing. Required.
	Client *redis.Client
	// Prefix starts every channel name, so deployments (and test runs)
	// sharing one Redis stay apart. Zero: "quire:".
	Prefix string
	// Instance identifies this server among the deployment's; it must be
	// unique (a random id per process does). Required.
	Instance string
	// Logger. Nil: discard.
	Logger *slog.Logger
	// PeerBeat and PeerTTL: how often this instance announces itself, and
	// after how long without an announcement another is taken for dead
	// (broker_redis_peers.go). Zero: 2 s and 6 s.
	PeerBeat time.Duration
	PeerTTL  time.Duration
	// CommandTimeout bounds how long CommandWait waits for the other
	// instances' confirmations. Zero: 5 s.
	CommandTimeout time.Duration
	// SubscribeTimeout bounds how long Subscribe waits for Redis to confirm
	// a subscription it has taken: a Redis that hangs (stopped, or cut off
	// without a reset) takes commands but answers none, and a join must not
	// wait for it. Zero: 3 s (go-redis's default read timeout).
	SubscribeTimeout time.Duration
	// QueueSize bounds the messages waiting to be published to Redis; when
	// full, Publish drops the remote copy (local delivery has happened) and
	// counts it. Zero: 65536.
	QueueSize int
}

// RedisBroker is the Broker of several instances sharing a Redis: local
// delivery is direct, remote delivery goes through Redis pub/sub, one
// channel per room plus one for commands. One goroutine publishes, in
// order, on one connection, so one instance's messages reach every other
// in the order it published them; one subscription connection receives,
// so they are handled in that order.
//
// Redis pub/sub keeps nothing: a message published while a subscriber's
// connection is down is lost to it. What must not be lost (document
// updates) is durable in the database before it is published, and an
// instance fills a gap from there (issue 12); the broker only reports
// reconnections through Dropped and the log.
type RedisBroker struct {
	cfg   RedisBrokerConfig
	log   *slog.Logger
	queue chan redisOut

	mu      sync.Mutex
	h       BrokerHandler
	rooms   map[string]struct{}
	waiters map[string][]chan struct{} // channel → Subscribe calls awaiting Redis's confirmation
	late    map[string]bool            // channels Subscribe stopped waiting for (Redis hangs)
	waits   map[string]*commandWait    // CommandWait id → the instances it waits for
	ps      *redis.PubSub
	stopped bool

	stopping  chan struct{} // closed by Stop: the publisher drains and ends
	published chan struct{} // closed when the publisher has ended
	done      chan struct{} // closed when both goroutines have ended
	stopOnce  sync.Once
	cancel    context.CancelFunc

	dropped     int64 // remote copies dropped: queue full or Redis away (under mu)
	lastWarn    time.Time
	lastSubWarn time.Time
	// lostRemote (publisher goroutine only): frames were dropped since the
	// last successful publish.
	lostRemote   bool
	queueDropped atomic.Bool // Publish dropped a frame: tell the others
	// hung: a subscription went unconfirmed past SubscribeTimeout and
	// nothing has come from Redis since; Subscribe does not wait meanwhile.
	hung       atomic.Bool
	lateLogged atomic.Bool // the hang was logged; its end is not yet

	waitSeq atomic.Uint64
	onWait  func(pending []string) // tests: CommandWait starts waiting

	// senders (deliver's goroutine only): the instances heard from.
	// heard (under mu): those not yet handed to the peers loop, which
	// knows them from then on even if it never saw them beat.
	senders map[string]struct{}
	heard   []string
}

type redisOut struct {
	channel string
	frame   []byte
}

var _ Broker = (*RedisBroker)(nil)

// NewRedisBroker checks cfg; nothing connects until Start.
func NewRedisBroker(cfg RedisBrokerConfig) (*RedisBroker, error) {
	if cfg.Client == nil {
		return nil, errors.New("realtime: redis broker needs a client")
	}
	if cfg.Instance == "" {
		return nil, errors.New("realtime: redis broker needs an instance id")
	}
	cfg.Prefix = cmp.Or(cfg.Prefix, "quire:")
	cfg.QueueSize = cmp.Or(cfg.QueueSize, 1<<16)
	cfg.PeerBeat = cmp.Or(cfg.PeerBeat, peerBeatDefault)
	cfg.PeerTTL = cmp.Or(cfg.PeerTTL, peerTTLDefault)
	cfg.CommandTimeout = cmp.Or(cfg.CommandTimeout, 5*time.Second)
	cfg.SubscribeTimeout = cmp.Or(cfg.SubscribeTimeout, 3*time.Second)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &RedisBroker{
		cfg: cfg, log: cfg.Logger.With("component", "broker", "instance", cfg.Instance),
		queue: make(chan redisOut, cfg.QueueSize),
		rooms: map[string]struct{}{}, waiters: map[string][]chan struct{}{}, late: map[string]bool{}, waits: map[string]*commandWait{},
		stopping: make(chan struct{}), published: make(chan struct{}), done: make(chan struct{}),
	}, nil
}

func (b *RedisBroker) roomChannel(room string) string { return b.cfg.Prefix + "room:" + room }
func (b *RedisBroker) commandChannel() string         { return b.cfg.Prefix + "commands" }

// Start implements Broker: it subscribes to the command channel and waits
// for Redis to confirm, so a Command published after Start reaches it,
// then for its first beat, so another instance's CommandWait waits for it.
func (b *RedisBroker) Start(ctx context.Context, h BrokerHandler) error {
	if h == nil {
		return errors.New("realtime: broker handler is nil")
	}
	b.mu.Lock()
	if b.stopped {
		b.mu.Unlock()
		return ErrBrokerStopped
	}
	if b.h != nil {
		b.mu.Unlock()
		return errors.New("realtime: broker already started")
	}
	b.h = h
	b.ps = b.cfg.Client.Subscribe(context.Background())
	runCtx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	wait := b.addWaiterLocked(b.commandChannel())
	b.mu.Unlock()

	var wg sync.WaitGroup
	wg.Add(4)
	subscribed, beaten := make(chan struct{}), make(chan struct{})
	go func() { defer wg.Done(); b.peers(runCtx, subscribed, beaten) }()
	in := newFrameQueue()
	go func() {
		defer wg.Done()
		defer in.close()
		b.receive(b.ps.ChannelWithSubscriptions(redis.WithChannelSize(1024)), in)
	}()
	go func() { defer wg.Done(); in.run(b.deliver) }()
	go func() { defer wg.Done(); b.publish(runCtx) }()
	go func() { wg.Wait(); close(b.done) }()

	if err := b.ps.Subscribe(ctx, b.commandChannel()); err != nil {
		return fmt.Errorf("realtime: redis subscribe: %w", err)
	}
	if err := b.await(ctx, wait); err != nil {
		return err
	}
	close(subscribed)
	select {
	case <-beaten:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("realtime: redis: first beat: %w", ctx.Err())
	}
}

// Publish implements Broker.
func (b *RedisBroker) Publish(_ context.Context, m Message) error {
	if m.Room == "" {
		return errors.New("realtime: publish to an empty room name")
	}
	h, local, err := b.handlerFor(m.Room)
	if err != nil {
		return err
	}
	if local {
		h.HandleMessage(m)
	}
	b.enqueue(redisOut{b.roomChannel(m.Room), b.encodeMessage(m)})
	return nil
}

// Command implements Broker.
func (b *RedisBroker) Command(_ context.Context, c Command) error {
	h, _, err := b.handlerFor("")
	if err != nil {
		return err
	}
	h.HandleCommand(c)
	b.enqueue(redisOut{b.commandChannel(), b.encodeCommand(c, "")})
	return nil
}

// commandWait is a CommandWait's account of the other instances.
type commandWait struct {
	pending map[string]bool // yet to confirm
	gone    []string        // stopped before confirming
	done    chan struct{}   // closed when pending empties
	read    time.Time       // pending was read from the peer set before this
}

// CommandWait implements Broker. It waits for the instances live in the
// peer set when it starts (Start puts an instance there once it receives
// commands); each confirms with a frameAck once its handler has returned,
// and an instance that leaves the set meanwhile is given up (peers).
func (b *RedisBroker) CommandWait(ctx context.Context, c Command) error {
	h, _, err := b.handlerFor("")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, b.cfg.CommandTimeout)
	defer cancel()
	live, err := b.livePeers(ctx)
	switch {
	case err != nil:
		if cerr := b.Command(ctx, c); cerr != nil {
			return cerr
		}
		return fmt.Errorf("%w: the live instances are unknown: %v", ErrUnconfirmed, err)
	case len(live) == 0: // no other instance to wait for
		return b.Command(ctx, c)
	}
	expect := slices.Sorted(maps.Keys(live))
	w := &commandWait{pending: live, done: make(chan struct{}), read: time.Now()}
	id := strconv.FormatUint(b.waitSeq.Add(1), 10)
	b.mu.Lock()
	b.waits[id] = w
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.waits, id)
		b.mu.Unlock()
	}()
	h.HandleCommand(c)
	b.enqueue(redisOut{b.commandChannel(), b.encodeCommand(c, id)})
	if b.onWait != nil {
		b.onWait(expect)
	}
	select {
	case <-w.done:
	case <-ctx.Done():
	case <-b.done:
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(w.pending) == 0 && len(w.gone) == 0 {
		return nil
	}
	return fmt.Errorf("%w: stopped meanwhile: %v, no answer from: %v", ErrUnconfirmed, w.gone, slices.Sorted(maps.Keys(w.pending)))
}

// confirmed: instance answered the CommandWait id.
func (b *RedisBroker) confirmed(id, instance string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if w := b.waits[id]; w != nil && w.pending[instance] {
		w.settle(instance, false)
	}
}

// awaitedGone gives up the awaited instances missing from live, read from
// the peer set after sent: they stopped (even one that lived too briefly
// for peers to know it). A wait that read the set later is left alone.
func (b *RedisBroker) awaitedGone(live map[string]bool, sent time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, w := range b.waits {
		if sent.Before(w.read) {
			continue
		}
		for id := range w.pending {
			if !live[id] {
				w.settle(id, true)
			}
		}
	}
}

// settle: instance, pending, is no longer awaited; b.mu is held.
func (w *commandWait) settle(instance string, gone bool) {
	delete(w.pending, instance)
	if gone {
		w.gone = append(w.gone, instance)
	}
	if len(w.pending) == 0 {
		close(w.done)
	}
}

// Subscribe implements Broker; it returns once Redis has confirmed, so a
// message another instance publishes afterwards arrives.
func (b *RedisBroker) Subscribe(ctx context.Context, room string) error {
	b.mu.Lock()
	if b.stopped || b.h == nil {
		b.mu.Unlock()
		return ErrBrokerStopped
	}
	if _, ok := b.rooms[room]; ok {
		b.mu.Unlock()
		return nil
	}
	b.rooms[room] = struct{}{}
	ch := b.roomChannel(room)
	wait := b.addWaiterLocked(ch)
	b.mu.Unlock()
	if err := b.ps.Subscribe(ctx, ch); err != nil {
		if ctx.Err() == nil {
			// Redis is away. The room stays subscribed here, so local
			// sockets keep getting its messages, and go-redis subscribes
			// the channel again when it reconnects (the gap that follows
			// makes live documents read the log).
			b.warnSubscribe(err)
			return nil
		}
		b.mu.Lock()
		delete(b.rooms, room)
		b.mu.Unlock()
		return fmt.Errorf("realtime: redis subscribe: %w", err)
	}
	if b.hung.Load() {
		return b.subscribeLate(ch, wait, errRedisHangs)
	}
	wctx, cancel := context.WithTimeout(ctx, b.cfg.SubscribeTimeout)
	defer cancel()
	err := b.await(wctx, wait)
	if err == nil || ctx.Err() != nil || errors.Is(err, ErrBrokerStopped) {
		return err
	}
	b.hung.Store(true)
	return b.subscribeLate(ch, wait, errRedisHangs)
}

var errRedisHangs = errors.New("redis took a subscription but has not confirmed it")

// subscribeLate: Redis has the subscription of ch but has not confirmed
// it (it hangs). As when it is away, the room is served locally meanwhile;
// messages published before the confirmation arrives are lost to this
// instance, so the confirmation, when it comes, counts as a gap (receive).
func (b *RedisBroker) subscribeLate(ch string, wait chan struct{}, err error) error {
	b.mu.Lock()
	select {
	case <-wait: // confirmed meanwhile
	default:
		b.late[ch] = true
	}
	b.mu.Unlock()
	b.lateLogged.Store(true)
	b.warnSubscribe(err)
	return nil
}

// warnSubscribe logs subscriptions deferred while Redis is away, at most
// once every 10 s.
func (b *RedisBroker) warnSubscribe(err error) {
	b.mu.Lock()
	warn := time.Since(b.lastSubWarn) > 10*time.Second
	if warn {
		b.lastSubWarn = time.Now()
	}
	b.mu.Unlock()
	if warn {
		b.log.Warn("redis: unreachable; rooms joined meanwhile are served locally and subscribed once it is back", "err", err)
	}
}

// Unsubscribe implements Broker. Delivery stops at once (the receiver
// checks the room); Redis is told without waiting.
func (b *RedisBroker) Unsubscribe(ctx context.Context, room string) error {
	b.mu.Lock()
	if b.stopped || b.h == nil {
		b.mu.Unlock()
		return ErrBrokerStopped
	}
	if _, ok := b.rooms[room]; !ok {
		b.mu.Unlock()
		return nil
	}
	delete(b.rooms, room)
	b.mu.Unlock()
	if err := b.ps.Unsubscribe(ctx, b.roomChannel(room)); err != nil {
		return fmt.Errorf("realtime: redis unsubscribe: %w", err)
	}
	return nil
}

// Stop implements Broker: it publishes what is queued (bounded by ctx),
// then closes the subscription. It does not close the client.
func (b *RedisBroker) Stop(ctx context.Context) error {
	b.stopOnce.Do(func() {
		b.mu.Lock()
		b.stopped = true
		started := b.h != nil
		b.h = nil
		b.mu.Unlock()
		if !started {
			close(b.done)
			return
		}
		close(b.stopping)
		select {
		case <-b.published:
		case <-ctx.Done():
		}
		b.cancel()
		_ = b.ps.Close() // ends receive
		select {
		case <-b.done:
		case <-ctx.Done():
		}
	})
	return nil
}

// Dropped is how many remote copies were lost (queue full, Redis away).
func (b *RedisBroker) Dropped() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.dropped
}

func (b *RedisBroker) handlerFor(room string) (BrokerHandler, bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopped || b.h == nil {
		return nil, false, ErrBrokerStopped
	}
	_, ok := b.rooms[room]
	return b.h, ok, nil
}

func (b *RedisBroker) addWaiterLocked(channel string) chan struct{} {
	w := make(chan struct{})
	b.waiters[channel] = append(b.waiters[channel], w)
	return w
}

func (b *RedisBroker) await(ctx context.Context, w chan struct{}) error {
	select {
	case <-w:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("realtime: redis subscribe: %w", ctx.Err())
	case <-b.done:
		return ErrBrokerStopped
	}
}

// enqueue hands a frame to the publisher without blocking the caller (a
// document's owner goroutine): a full queue drops it and counts.
func (b *RedisBroker) enqueue(o redisOut) {
	select {
	case b.queue <- o:
	default:
		b.queueDropped.Store(true)
		b.drop(1, "publish queue full")
	}
}

func (b *RedisBroker) drop(n int, why string) {
	b.mu.Lock()
	b.dropped += int64(n)
	warn := time.Since(b.lastWarn) > 10*time.Second
	if warn {
		b.lastWarn = time.Now()
	}
	total := b.dropped
	b.mu.Unlock()
	if warn {
		b.log.Warn("redis: messages to other instances dropped", "reason", why, "dropped_total", total)
	}
}

// publish sends queued frames in order, as many per pipeline as are
// waiting, on one connection at a time. Once Stop is called it sends what
// is queued and ends.
func (b *RedisBroker) publish(ctx context.Context) {
	defer close(b.published)
	batch := make([]redisOut, 0, 256)
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	for {
		batch = batch[:0]
		if b.lostRemote {
			// The gap must be announced even if nothing else is published:
			// the frames lost may be the document's last updates.
			retry.Reset(gapRetry)
		}
		select {
		case o := <-b.queue:
			batch = append(batch, o)
		case <-retry.C:
		case <-b.stopping:
			for len(b.queue) > 0 && len(batch) < cap(batch) {
				batch = append(batch, <-b.queue)
			}
			if len(batch) == 0 {
				return
			}
		}
	fill:
		for len(batch) < cap(batch) {
			select {
			case o := <-b.queue:
				batch = append(batch, o)
			default:
				break fill
			}
		}
		pipe := b.cfg.Client.Pipeline()
		for _, o := range batch {
			pipe.Publish(ctx, o.channel, o.frame)
		}
		if b.queueDropped.Swap(false) {
			b.lostRemote = true
		}
		if b.lostRemote {
			// Some frames never reached Redis: the others are told to read
			// what they missed from the log (issue 12), once Redis is back.
			pipe.Publish(ctx, b.commandChannel(), b.encodeGap())
		}
		retry.Stop()
		if pipe.Len() == 0 {
			continue
		}
		if _, err := pipe.Exec(ctx); err != nil {
			b.lost(len(batch), err)
		} else if b.lostRemote {
			b.lostRemote = false
			b.log.Info("redis: reachable again; other instances resynchronise from the log", "dropped_total", b.Dropped())
		}
	}
}

// gapRetry: how often a publisher that lost frames tries to announce it
// while nothing else is published.
const gapRetry = time.Second

// lost counts frames Redis did not take and logs once per outage (the
// publisher retries nothing: the log has what matters).
func (b *RedisBroker) lost(n int, err error) {
	b.mu.Lock()
	b.dropped += int64(n)
	b.mu.Unlock()
	if !b.lostRemote {
		b.lostRemote = true
		b.log.Warn("redis: unreachable; serving this instance's sockets alone until it is back", "err", err)
	}
}

// gap tells the handler that messages to this instance may be lost.
func (b *RedisBroker) gap() {
	if h, _, err := b.handlerFor(""); err == nil {
		if g, ok := h.(GapHandler); ok {
			g.HandleGap()
		}
	}
}

// CrossInstance implements CrossInstance.
func (b *RedisBroker) CrossInstance() bool { return true }

func (b *RedisBroker) encodeGap() []byte {
	return appendField([]byte{frameGap}, b.cfg.Instance)
}

// receive hands what other instances published to the handler, in order.
// Messages go to the handler on another goroutine (in), so that a
// handler that subscribes (a command joining sockets to a room) can wait
// for Redis's confirmation, which this goroutine reads.
func (b *RedisBroker) receive(ch <-chan any, in *frameQueue) {
	for v := range ch {
		b.hung.Store(false) // Redis answers
		switch v := v.(type) {
		case *redis.Subscription:
			if v.Kind != "subscribe" {
				continue
			}
			b.mu.Lock()
			ws := b.waiters[v.Channel]
			delete(b.waiters, v.Channel)
			late := b.late[v.Channel]
			delete(b.late, v.Channel)
			b.mu.Unlock()
			for _, w := range ws {
				close(w)
			}
			switch {
			case len(ws) == 0 && v.Channel == b.commandChannel():
				// Nobody asked: the client reconnected and subscribed
				// again. What was published meanwhile never came.
				b.log.Info("redis: subscription restored; messages published meanwhile are lost to this instance")
				b.gap()
			case late:
				// Served locally until now: what others published to
				// it meanwhile did not come.
				if b.lateLogged.CompareAndSwap(true, false) {
					b.log.Info("redis: answering again; rooms joined meanwhile are subscribed now")
				}
				b.gap()
			}
		case *redis.Message:
			if !b.takeAck(v) {
				in.push(v)
			}
		}
	}
}

// takeAck answers whether v is a frameAck, and notes it if it is for this
// instance. Acks are taken here, not behind the handler's queue: a
// CommandWait never waits for this instance's own handlers.
func (b *RedisBroker) takeAck(v *redis.Message) bool {
	if len(v.Payload) == 0 || v.Payload[0] != frameAck {
		return false
	}
	f := frameReader{b: []byte(v.Payload[1:])}
	from, to, id := f.str(), f.str(), f.str()
	if f.err != nil {
		b.log.Error("redis: malformed ack frame", "channel", v.Channel)
	} else if to == b.cfg.Instance {
		b.confirmed(id, from)
	}
	return true
}

func (b *RedisBroker) deliver(v *redis.Message) {
	f := frameReader{b: []byte(v.Payload)}
	kind, sender := f.byte(), f.str()
	if f.err != nil {
		b.log.Error("redis: malformed frame", "channel", v.Channel)
		return
	}
	if sender == b.cfg.Instance {
		return // delivered locally when published
	}
	b.heardFrom(sender)
	switch kind {
	case frameGap:
		b.gap()
	case frameMessage:
		m := Message{Room: f.str(), Event: f.str(), Payload: f.bytes(), Except: f.str(),
			Origin: Origin{Instance: f.str(), SID: f.str(), UserID: f.str()}}
		if n := f.uvarint(); n > 0 && f.err == nil {
			m.Attachments = make([][]byte, 0, min(n, 64))
			for i := uint64(0); i < n && f.err == nil; i++ {
				m.Attachments = append(m.Attachments, f.bytes())
			}
		}
		if f.err != nil {
			b.log.Error("redis: malformed message frame", "channel", v.Channel)
			return
		}
		if h, local, err := b.handlerFor(m.Room); err == nil && local {
			h.HandleMessage(m)
		}
	case frameCommand:
		c := Command{Kind: CommandKind(f.byte()), UserID: f.str(), NoteID: f.str(),
			Origin: Origin{Instance: f.str(), SID: f.str(), UserID: f.str()}, Room: f.str()}
		if n := f.uvarint(); n > 0 && f.err == nil {
			c.UserIDs = make([]string, 0, min(n, 1024))
			for i := uint64(0); i < n && f.err == nil; i++ {
				c.UserIDs = append(c.UserIDs, f.str())
			}
		}
		c.SID, c.CallID = f.str(), f.str()
		if p := f.bytes(); len(p) > 0 {
			c.Payload = p
		}
		var ackID string // absent from frames of versions before CommandWait
		if len(f.b) > 0 {
			ackID = f.str()
		}
		if f.err != nil {
			b.log.Error("redis: malformed command frame", "channel", v.Channel)
			return
		}
		if h, _, err := b.handlerFor(""); err == nil {
			h.HandleCommand(c)
			if ackID != "" {
				b.enqueue(redisOut{b.commandChannel(), b.encodeAck(sender, ackID)})
			}
		}
	}
}

// Frames: a kind byte, the sender instance, then the fields, each string
// or byte slice as a uvarint length and its bytes.
const (
	frameMessage byte = 1
	frameCommand byte = 2
	// frameGap: the sender failed to publish some frames (Redis away, a
	// full queue); every other instance reads its live documents' logs.
	frameGap byte = 3
	// frameAck: the sender has handled the command of CommandWait id
	// that instance `to` sent (fields: to, id).
	frameAck byte = 4
)

func (b *RedisBroker) encodeMessage(m Message) []byte {
	n := 64 + len(b.cfg.Instance) + len(m.Room) + len(m.Event) + len(m.Payload) + len(m.Except) +
		len(m.Origin.Instance) + len(m.Origin.SID) + len(m.Origin.UserID)
	for _, a := range m.Attachments {
		n += len(a) + binary.MaxVarintLen64
	}
	buf := make([]byte, 0, n)
	buf = append(buf, frameMessage)
	buf = appendField(buf, b.cfg.Instance)
	for _, s := range []string{m.Room, m.Event, string(m.Payload), m.Except, m.Origin.Instance, m.Origin.SID, m.Origin.UserID} {
		buf = appendField(buf, s)
	}
	buf = binary.AppendUvarint(buf, uint64(len(m.Attachments)))
	for _, a := range m.Attachments {
		buf = appendField(buf, string(a))
	}
	return buf
}

func (b *RedisBroker) encodeAck(to, id string) []byte {
	return appendField(appendField(appendField([]byte{frameAck}, b.cfg.Instance), to), id)
}

// encodeCommand: ackID is CommandWait's id, "" for Command.
func (b *RedisBroker) encodeCommand(c Command, ackID string) []byte {
	buf := []byte{frameCommand}
	buf = appendField(buf, b.cfg.Instance)
	buf = append(buf, byte(c.Kind))
	for _, s := range []string{c.UserID, c.NoteID, c.Origin.Instance, c.Origin.SID, c.Origin.UserID, c.Room} {
		buf = appendField(buf, s)
	}
	buf = binary.AppendUvarint(buf, uint64(len(c.UserIDs)))
	for _, id := range c.UserIDs {
		buf = appendField(buf, id)
	}
	buf = appendField(buf, c.SID)
	buf = appendField(buf, c.CallID)
	buf = appendField(buf, string(c.Payload))
	if ackID != "" {
		buf = appendField(buf, ackID)
	}
	return buf
}

func appendField(buf []byte, s string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

// frameReader reads a frame; the first fault sticks in err.
type frameReader struct {
	b   []byte
	err error
}

var errFrame = errors.New("truncated frame")

func (f *frameReader) byte() byte {
	if f.err != nil || len(f.b) == 0 {
		f.err = errFrame
		return 0
	}
	c := f.b[0]
	f.b = f.b[1:]
	return c
}

func (f *frameReader) uvarint() uint64 {
	if f.err != nil {
		return 0
	}
	v, n := binary.Uvarint(f.b)
	if n <= 0 {
		f.err = errFrame
		return 0
	}
	f.b = f.b[n:]
	return v
}

func (f *frameReader) bytes() []byte {
	n := f.uvarint()
	if f.err != nil || n > uint64(len(f.b)) {
		f.err = errFrame
		return nil
	}
	out := f.b[:n:n]
	f.b = f.b[n:]
	return out
}

func (f *frameReader) str() string { return string(f.bytes()) }

// frameQueue hands received messages from the reading goroutine to the
// delivering one in order. Unbounded: the reader must never wait for the
// handler (which may be waiting for the reader); go-redis's own channel
// bounds what is read ahead of a slow handler only by time.
type frameQueue struct {
	mu     sync.Mutex
	q      []*redis.Message
	closed bool
	ready  chan struct{}
}

func newFrameQueue() *frameQueue { return &frameQueue{ready: make(chan struct{}, 1)} }

func (f *frameQueue) push(m *redis.Message) {
	f.mu.Lock()
	f.q = append(f.q, m)
	f.mu.Unlock()
	f.signal()
}

func (f *frameQueue) close() {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	f.signal()
}

func (f *frameQueue) signal() {
	select {
	case f.ready <- struct{}{}:
	default:
	}
}

// run delivers until close, then what is left.
func (f *frameQueue) run(deliver func(*redis.Message)) {
	for {
		f.mu.Lock()
		batch, closed := f.q, f.closed
		f.q = nil
		f.mu.Unlock()
		for _, m := range batch {
			deliver(m)
		}
		if closed && len(batch) == 0 {
			return
		}
		if len(batch) == 0 {
			<-f.ready
		}
	}
}
