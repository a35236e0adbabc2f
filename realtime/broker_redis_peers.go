package realtime

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Instances announce themselves in a sorted set (member: instance id,
// score: latest beat, unix ms). An instance that stops beating (killed, or
// cut off from Redis) may have acknowledged updates that it stored but
// never published; when one disappears the others read their live
// documents' logs (a gap), so those updates reach every live copy even if
// their senders never reconnect.

// Peer liveness timing.
const (
	peerBeatDefault = 2 * time.Second
	peerTTLDefault  = 6 * time.Second
)

func (b *RedisBroker) peersKey() string { return b.cfg.Prefix + "instances" }

// peers beats until ctx ends, then removes this instance from the set.
//
// An instance missing from the set is gone only once every live one has
// had PeerTTL to beat since this one last could not tell: after a failed
// beat, or a beat that found this instance missing (Redis restarted empty,
// or this one was cut off for long), the set may lack live instances that
// simply have not beaten again yet. For PeerTTL from then, instances are
// only learned; those known before and still missing after it are gone,
// including any that died meanwhile.
//
// An instance heard from (broker_redis.go's deliver) is known too: one
// killed after Redis restarted empty, before it beat again, is never seen
// in the set, yet its sockets' cursors are shown here.
//
// The first beat waits for subscribed (the commands' subscription is in
// place); beaten is closed after it.
func (b *RedisBroker) peers(ctx context.Context, subscribed <-chan struct{}, beaten chan struct{}) {
	select {
	case <-subscribed:
	case <-ctx.Done():
		return
	}
	beat, ttl := b.cfg.PeerBeat, b.cfg.PeerTTL
	tick := time.NewTicker(beat)
	defer tick.Stop()
	known := map[string]bool{}
	unsure := true // no beat has seen the set whole yet
	var learnUntil time.Time
	for {
		// Taken before the beat: an instance heard from beat before it
		// sent (Start waits for its first beat), so the set read next
		// holds it if it lives.
		for _, id := range b.takeHeard() {
			known[id] = true
		}
		sent := time.Now()
		live, fresh, err := b.beat(ctx, ttl)
		if beaten != nil {
			close(beaten)
			beaten = nil
		}
		switch {
		case err != nil && ctx.Err() == nil:
			unsure = true // Redis away: the broker logs that
		case err == nil:
			now := time.Now()
			if unsure || fresh {
				unsure, learnUntil = false, now.Add(ttl)
			}
			if now.Before(learnUntil) {
				for id := range live {
					known[id] = true
				}
				break
			}
			b.awaitedGone(live, sent)
			gone := false
			for id := range known {
				if !live[id] {
					b.log.Info("redis: an instance stopped beating; resynchronising live documents from the log", "gone", id)
					b.peerGone(id)
					gone = true
				}
			}
			if gone {
				b.gap()
			}
			known = live
		}
		select {
		case <-ctx.Done():
			rm, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = b.cfg.Client.ZRem(rm, b.peersKey(), b.cfg.Instance).Err()
			cancel()
			return
		case <-tick.C:
		}
	}
}

// heardFrom notes that instance sent something; deliver's goroutine only.
func (b *RedisBroker) heardFrom(instance string) {
	if _, ok := b.senders[instance]; ok {
		return
	}
	if b.senders == nil {
		b.senders = map[string]struct{}{}
	}
	b.senders[instance] = struct{}{}
	b.mu.Lock()
	b.heard = append(b.heard, instance)
	b.mu.Unlock()
}

// takeHeard returns the instances heard from since the last call.
func (b *RedisBroker) takeHeard() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	h := b.heard
	b.heard = nil
	return h
}

// beat records this instance as live now and returns the live instances
// other than this one, and whether this one was missing from the set.
func (b *RedisBroker) beat(ctx context.Context, ttl time.Duration) (live map[string]bool, fresh bool, err error) {
	now := time.Now().UnixMilli()
	var ids *redis.StringSliceCmd
	var added *redis.IntCmd
	_, err = b.cfg.Client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		added = p.ZAdd(ctx, b.peersKey(), redis.Z{Score: float64(now), Member: b.cfg.Instance})
		// Long gone instances go; recently gone ones stay a while, harmless.
		p.ZRemRangeByScore(ctx, b.peersKey(), "-inf", strconv.FormatInt(now-10*ttl.Milliseconds(), 10))
		ids = p.ZRangeByScore(ctx, b.peersKey(), &redis.ZRangeBy{Min: strconv.FormatInt(now-ttl.Milliseconds(), 10), Max: "+inf"})
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return b.others(ids.Val()), added.Val() == 1, nil
}

// livePeers reads the instances other than this one that beat within
// PeerTTL.
func (b *RedisBroker) livePeers(ctx context.Context) (map[string]bool, error) {
	now := time.Now().UnixMilli()
	ids, err := b.cfg.Client.ZRangeByScore(ctx, b.peersKey(),
		&redis.ZRangeBy{Min: strconv.FormatInt(now-b.cfg.PeerTTL.Milliseconds(), 10), Max: "+inf"}).Result()
	if err != nil {
		return nil, err
	}
	return b.others(ids), nil
}

func (b *RedisBroker) others(ids []string) map[string]bool {
	live := make(map[string]bool, len(ids))
	for _, id := range ids {
		if id != b.cfg.Instance {
			live[id] = true
		}
	}
	return live
}

// peerGone tells the handler that instance stopped.
func (b *RedisBroker) peerGone(instance string) {
	if h, _, err := b.handlerFor(""); err == nil {
		if g, ok := h.(PeerGoneHandler); ok {
			g.HandlePeerGone(instance)
		}
	}
}
