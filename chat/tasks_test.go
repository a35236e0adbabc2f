package chat_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/quire/quire/chat"
	"github.com/quire/quire/chat/taskstest"
	"github.com/quire/quire/internal/redistest"
	"github.com/quire/quire/internal/tcptest"
)

func TestTasksMemory(t *testing.T) {
	t.Parallel()
	taskstest.Run(t, func(t *testing.T) (chat.Tasks, chat.Tasks) {
		ts := chat.NewTasksMemory()
		t.Cleanup(func() { _ = ts.Shutdown(context.Background()) })
		return ts, ts
	})
}

func newRedisTasks(t *testing.T, prefix, instance string, beat, ttl time.Duration) *chat.TasksRedis {
	t.Helper()
	ts, err := chat.NewTasksRedis(chat.TasksRedisConfig{Client: redistest.Client(t), Prefix: prefix, Instance: instance, Beat: beat, TTL: ttl})
	require.NoError(t, err)
	t.Cleanup(func() { _ = ts.Shutdown(context.Background()) })
	return ts
}

func TestTasksRedis(t *testing.T) {
	t.Parallel()
	c := redistest.Client(t)
	taskstest.Run(t, func(t *testing.T) (chat.Tasks, chat.Tasks) {
		prefix := redistest.Prefix(t, c)
		return newRedisTasks(t, prefix, "a", 0, 0), newRedisTasks(t, prefix, "b", 0, 0)
	})
}

// The tasks of an instance that died (no beat, no listener) stop being
// listed once their entries expire, and a stop of one answers then rather
// than wait for ever; a live instance's task stays listed past the TTL.
func TestTasksRedisInstanceGone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	prefix := redistest.Prefix(t, redistest.Client(t))
	const beat, ttl = 25 * time.Millisecond, 500 * time.Millisecond
	a := newRedisTasks(t, prefix, "a", beat, ttl)
	b := newRedisTasks(t, prefix, "b", beat, ttl)
	run := func(ctx context.Context, _ *chat.Task) { <-ctx.Done() }
	live, err := chat.Go(ctx, b, chat.Task{UserID: "u1"}, run)
	require.NoError(t, err)
	dead, err := chat.Go(ctx, a, chat.Task{UserID: "u1", Key: "k"}, run)
	require.NoError(t, err)
	chat.KillTasks(a)

	require.NoError(t, b.Stop(ctx, chat.ErrTaskStopped, dead.ID), "a stop of a dead instance's task answers")
	lst, err := b.List(ctx, func(*chat.Task) bool { return true })
	require.NoError(t, err)
	require.Equal(t, []string{live.ID}, chat.IDs(lst), "the live task stays listed past the TTL")
	_, err = b.Get(ctx, dead.ID)
	require.ErrorIs(t, err, chat.ErrNoTask)
	again, err := b.Claim(ctx, chat.Task{Key: "k"})
	require.NoError(t, err, "a dead instance's task holds no key")
	b.Release(again)
	select {
	case <-dead.Done():
		t.Fatal("the dead instance's task was ended: the stop reached it")
	default:
	}
}

// While Redis is away an instance's tasks still start, list, stop and
// keep one writer per key, on this instance.
func TestTasksRedisAway(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	gone := redis.NewClient(&redis.Options{Addr: tcptest.RefusingAddr(t), MaxRetries: -1})
	t.Cleanup(func() { _ = gone.Close() })
	ts, err := chat.NewTasksRedis(chat.TasksRedisConfig{Client: gone, Prefix: "quire-test-away:", Instance: "a"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = ts.Shutdown(ctx) })
	causes := make(chan error, 1)
	task, err := chat.Go(ctx, ts, chat.Task{UserID: "u1", Key: "k"}, func(ctx context.Context, _ *chat.Task) {
		<-ctx.Done()
		causes <- context.Cause(ctx)
	})
	require.NoError(t, err)
	_, err = ts.Claim(ctx, chat.Task{Key: "k"})
	require.ErrorIs(t, err, chat.ErrTaskRunning)
	lst, err := ts.List(ctx, func(*chat.Task) bool { return true })
	require.NoError(t, err)
	require.Equal(t, []string{task.ID}, chat.IDs(lst))
	got, err := ts.Get(ctx, task.ID)
	require.NoError(t, err)
	require.Same(t, task, got)
	require.NoError(t, ts.Stop(ctx, chat.ErrTaskStopped, task.ID))
	require.ErrorIs(t, <-causes, chat.ErrTaskStopped)
}
