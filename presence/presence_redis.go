package presence

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisConfig configures a Redis Manager.
type RedisConfig struct {
	// Client is the shared Redis. Required.
	Client *redis.Client
	// Prefix starts every key, as the broker's channels. Zero: "quire:".
	Prefix string
	// Now is the clock; nil: time.Now. Every instance's clock counts, so
	// keep them in step (NTP): expiry compares one instance's heartbeat
	// time with another's now.
	Now func() time.Time
	// Timeout, UsageTimeout and SweepInterval as Memory's.
	Timeout       time.Duration
	UsageTimeout  time.Duration
	SweepInterval time.Duration
	// Logger; nil: discard.
	Logger *slog.Logger
}

// Redis is the Manager of several instances: sockets and model uses live
// in Redis, scored by the time of their latest heartbeat, so every instance
// answers the same and an instance that dies stops counting once its
// sockets' heartbeats are older than the timeout. Keys (after Prefix):
//
//	presence:sockets       sorted set  sid → latest heartbeat (unix ms)
//	presence:owners        hash        sid → user id
//	presence:usage         sorted set  sid "\n" model → latest use (unix ms)
//	presence:usedby:<sid>  set         the models sid used (for Disconnect)
type Redis struct {
	cfg                          RedisConfig
	log                          *slog.Logger
	sockets, owners, usage, used string

	sweeps sweeper // Start and Stop
}

var _ Manager = (*Redis)(nil)

// NewRedis checks cfg; nothing connects until the first call.
func NewRedis(cfg RedisConfig) (*Redis, error) {
	if cfg.Client == nil {
		return nil, errors.New("presence: redis needs a client")
	}
	cfg.Prefix = cmp.Or(cfg.Prefix, "quire:")
	cfg.Timeout = cmp.Or(cfg.Timeout, TimeoutDefault)
	cfg.UsageTimeout = cmp.Or(cfg.UsageTimeout, UsageTimeoutDefault)
	cfg.SweepInterval = cmp.Or(cfg.SweepInterval, SweepIntervalDefault)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	p := cfg.Prefix + "presence:"
	return &Redis{cfg: cfg, log: cfg.Logger.With("component", "presence"),
		sockets: p + "sockets", owners: p + "owners", usage: p + "usage", used: p + "usedby:"}, nil
}

func (r *Redis) nowMS() int64 { return r.cfg.Now().UnixMilli() }

// Connect implements Manager.
func (r *Redis) Connect(ctx context.Context, userID, sid string) error {
	return r.live(ctx, userID, sid)
}

// Touch implements Manager.
func (r *Redis) Touch(ctx context.Context, userID, sid string) error {
	return r.live(ctx, userID, sid)
}

func (r *Redis) live(ctx context.Context, userID, sid string) error {
	_, err := r.cfg.Client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.ZAdd(ctx, r.sockets, redis.Z{Score: float64(r.nowMS()), Member: sid})
		p.HSet(ctx, r.owners, sid, userID)
		return nil
	})
	return err
}

// disconnectScript forgets sid if it is userID's, and its model uses
// whoever it belongs to (as Memory.Disconnect).
var disconnectScript = redis.NewScript(`
if redis.call('HGET', KEYS[2], ARGV[1]) == ARGV[2] then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
end
for _, m in ipairs(redis.call('SMEMBERS', KEYS[4])) do
  redis.call('ZREM', KEYS[3], ARGV[1] .. '\n' .. m)
end
redis.call('DEL', KEYS[4])
return 0`)

// Disconnect implements Manager.
func (r *Redis) Disconnect(ctx context.Context, userID, sid string) error {
	err := disconnectScript.Run(ctx, r.cfg.Client, []string{r.sockets, r.owners, r.usage, r.used + sid}, sid, userID).Err()
	if errors.Is(err, redis.Nil) {
		err = nil
	}
	return err
}

// UseModel implements Manager.
func (r *Redis) UseModel(ctx context.Context, sid, model string) error {
	_, err := r.cfg.Client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.ZAdd(ctx, r.usage, redis.Z{Score: float64(r.nowMS()), Member: sid + "\n" + model})
		p.SAdd(ctx, r.used+sid, model)
		// Only a leak guard for a socket whose instance died: Sweep drops
		// its uses, Disconnect this set.
		p.Expire(ctx, r.used+sid, time.Hour)
		return nil
	})
	return err
}

// Models implements Manager.
func (r *Redis) Models(ctx context.Context) ([]string, error) {
	min := strconv.FormatInt(r.nowMS()-r.cfg.UsageTimeout.Milliseconds(), 10)
	members, err := r.cfg.Client.ZRangeByScore(ctx, r.usage, &redis.ZRangeBy{Min: min, Max: "+inf"}).Result()
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(members))
	for _, m := range members {
		if _, model, ok := strings.Cut(m, "\n"); ok {
			out = append(out, model)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// Online implements Manager.
func (r *Redis) Online(ctx context.Context) ([]string, error) {
	min := strconv.FormatInt(r.nowMS()-r.cfg.Timeout.Milliseconds(), 10)
	sids, err := r.cfg.Client.ZRangeByScore(ctx, r.sockets, &redis.ZRangeBy{Min: min, Max: "+inf"}).Result()
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(sids))
	for chunk := range slices.Chunk(sids, 1000) {
		owners, err := r.cfg.Client.HMGet(ctx, r.owners, chunk...).Result()
		if err != nil {
			return nil, err
		}
		for _, o := range owners {
			if id, ok := o.(string); ok { // nil: disconnected meanwhile
				ids = append(ids, id)
			}
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids), nil
}

// Owns implements Manager.
func (r *Redis) Owns(ctx context.Context, userID, sid string) (bool, error) {
	var owner *redis.StringCmd
	var score *redis.FloatCmd
	_, err := r.cfg.Client.Pipelined(ctx, func(p redis.Pipeliner) error {
		owner = p.HGet(ctx, r.owners, sid)
		score = p.ZScore(ctx, r.sockets, sid)
		return nil
	})
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	at := int64(score.Val())
	return owner.Val() == userID && at >= r.nowMS()-r.cfg.Timeout.Milliseconds(), nil
}

// sweepScript deletes the sockets older than ARGV[1] and the model uses
// older than ARGV[2], a bounded number per call.
var sweepScript = redis.NewScript(`
local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1], 'LIMIT', 0, 1000)
for _, sid in ipairs(old) do
  redis.call('ZREM', KEYS[1], sid)
  redis.call('HDEL', KEYS[2], sid)
end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. ARGV[2])
return #old`)

// Sweep deletes expired sockets and model uses (any instance may: the
// script is atomic, so a heartbeat racing it either wins or comes after).
func (r *Redis) Sweep() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	now := r.nowMS()
	oldest := strconv.FormatInt(now-r.cfg.Timeout.Milliseconds(), 10)
	oldestUse := strconv.FormatInt(now-r.cfg.UsageTimeout.Milliseconds(), 10)
	for range 100 { // at most 100,000 sockets a sweep; the next one goes on
		n, err := sweepScript.Run(ctx, r.cfg.Client, []string{r.sockets, r.owners, r.usage}, oldest, oldestUse).Int()
		if err != nil {
			r.log.Warn("presence sweep failed", "err", err)
			return
		}
		if n < 1000 {
			return
		}
	}
}

// Start sweeps every SweepInterval until Stop. Idempotent.
func (r *Redis) Start(context.Context) error {
	r.sweeps.start(r.cfg.SweepInterval, r.Sweep)
	return nil
}

// Stop ends the sweeps and waits for the sweeper (or ctx). Idempotent.
func (r *Redis) Stop(ctx context.Context) error { return r.sweeps.halt(ctx) }
