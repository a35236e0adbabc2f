package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quire/quire/chat"
	"github.com/quire/quire/presence"
	"github.com/quire/quire/realtime"
)

// buildShared makes the parts several instances share: with --redis-url
// the Redis broker, presence and chat task registry, else nil (realtime's
// memory broker) and the memory ones. It sets s.presence, s.tasks and
// s.redis.
func (s *Server) buildShared(logger *slog.Logger) (realtime.Broker, error) {
	if s.cfg.RedisURL == "" {
		pm := presence.NewMemory()
		pm.Now = s.cfg.Now
		s.presence = pm
		s.tasks = chat.NewTasksMemory()
		return nil, nil
	}
	opt, err := redis.ParseURL(s.cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("--redis-url: %w", err)
	}
	// go-redis logs every failed dial while Redis is away (several a
	// second); the broker logs the outage once instead.
	redis.SetLogger(redisLogger{logger.With("component", "redis")})
	s.redis = redis.NewClient(opt)
	broker, err := realtime.NewRedisBroker(realtime.RedisBrokerConfig{
		Client: s.redis, Prefix: s.cfg.RedisPrefix, Instance: s.instance, Logger: logger,
	})
	if err != nil {
		s.closeRedis()
		return nil, err
	}
	pm, err := presence.NewRedis(presence.RedisConfig{Client: s.redis, Prefix: s.cfg.RedisPrefix, Now: s.cfg.Now, Logger: logger})
	if err != nil {
		s.closeRedis()
		return nil, err
	}
	s.presence = pm
	// Any instance lists and stops any instance's chat tasks (the stop
	// button's request may land on another instance than the task).
	s.tasks, err = chat.NewTasksRedis(chat.TasksRedisConfig{Client: s.redis, Prefix: s.cfg.RedisPrefix, Instance: s.instance, Logger: logger})
	if err != nil {
		s.closeRedis()
		return nil, err
	}
	return broker, nil
}

// redisLogger routes go-redis's own log to slog at debug.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, fmt.Sprintf(format, v...))
}

func (s *Server) closeRedis() {
	if s.tasks != nil {
		// Idempotent: ends the registry's Redis listener and beat too
		// when the server did not get to start.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = s.tasks.Shutdown(ctx)
		cancel()
	}
	if s.redis != nil {
		_ = s.redis.Close()
	}
}

// newInstanceID is a process-unique id: instances tell their own broker
// messages from others' by it.
func newInstanceID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// drainDocs is realtime's Drain: once no request is left (REST edits reach
// the documents too), the documents store and relay what they accepted
// while the broker still runs, so other instances get it.
func (s *Server) drainDocs(ctx context.Context) error {
	select {
	case <-s.httpDone:
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.docs.Stop(ctx)
}
