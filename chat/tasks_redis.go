package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Several instances on one Redis (--redis-url) share the task registry:
// every running task is an entry of the hash <prefix>tasks (field: task
// id), with the instance that runs it and a deadline the instance pushes
// forward every Beat while the task runs; an entry past its deadline is a
// task of an instance that died (or lost Redis), and is not listed. Stops
// and ends travel on the channel <prefix>tasks:events: a stop reaches the
// instance running the task, which ends it; an end tells the stoppers
// waiting on every instance. A stopper also reads the entry every Beat (and
// sends the stop again, in case it was lost), so a stop of a task whose
// instance is gone answers once its entry expires: within TTL.

// Task liveness timing, as the instances' own (realtime's peers).
const (
	TaskBeatDefault = 2 * time.Second
	TaskTTLDefault  = 6 * time.Second
)

// TasksRedisConfig configures NewTasksRedis.
type TasksRedisConfig struct {
	Client   redis.UniversalClient
	Prefix   string // --redis-prefix
	Instance string // this instance's id
	// Beat and TTL: an entry is refreshed every Beat and expires TTL after
	// its last refresh (defaults TaskBeatDefault, TaskTTLDefault).
	Beat, TTL time.Duration
	Logger    *slog.Logger
}

// TasksRedis is the registry of several instances sharing a Redis.
type TasksRedis struct {
	cfg   TasksRedisConfig
	log   *slog.Logger
	local *TasksMemory // the tasks this instance runs
	ps    *redis.PubSub

	// listMu orders a beat's refresh against an end's removal, so that a
	// beat never lists again a task that just ended.
	listMu sync.Mutex

	mu      sync.Mutex
	waiters map[string]map[chan struct{}]struct{} // task id → stoppers

	stopBeat context.CancelFunc
	bg       sync.WaitGroup
	once     sync.Once
}

var _ Tasks = (*TasksRedis)(nil)

// taskEntry is a task as stored in Redis.
type taskEntry struct {
	ID        string `json:"id"`
	UserID    string `json:"user_id"`
	ChatID    string `json:"chat_id"`
	MessageID string `json:"message_id"`
	Thread    string `json:"thread,omitempty"`
	Model     string `json:"model"`
	Started   int64  `json:"started"` // unix ns
	Key       string `json:"key,omitempty"`
	Instance  string `json:"instance"`
	Until     int64  `json:"until"` // unix ms: listed until then
}

// taskEvent is a message on the events channel.
type taskEvent struct {
	Op    string `json:"op"` // "stop" or "done"
	ID    string `json:"id"`
	Cause string `json:"cause,omitempty"` // stop: "stopped" or "deleted"
}

// claimScript lists a task (ARGV[1] id, ARGV[2] entry) unless another
// live entry (until > ARGV[4], unix ms) has its key ARGV[3]: atomic, so two
// instances claiming one answer get one task. (Its own entry may be there
// already: a beat lists every claim of this instance.)
var claimScript = redis.NewScript(`
if ARGV[3] ~= '' then
  for _, v in ipairs(redis.call('HVALS', KEYS[1])) do
    local ok, e = pcall(cjson.decode, v)
    if ok and type(e) == 'table' and e.id ~= ARGV[1] and e.key == ARGV[3] and tonumber(e['until']) > tonumber(ARGV[4]) then
      return 0
    end
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
`)

// NewTasksRedis subscribes to the events channel and starts beating.
func NewTasksRedis(cfg TasksRedisConfig) (*TasksRedis, error) {
	if cfg.Client == nil || cfg.Instance == "" {
		return nil, errors.New("chat: TasksRedis needs a client and an instance id")
	}
	if cfg.Beat <= 0 {
		cfg.Beat = TaskBeatDefault
	}
	if cfg.TTL <= 0 {
		cfg.TTL = TaskTTLDefault
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	r := &TasksRedis{cfg: cfg, log: cfg.Logger.With("component", "chat-tasks"), local: NewTasksMemory(),
		waiters: map[string]map[chan struct{}]struct{}{}}
	r.local.ended = r.ended
	// Subscribed before the first claim, so that stops reach this
	// instance (a stop lost meanwhile is sent again every Beat).
	r.ps = cfg.Client.Subscribe(context.Background(), r.eventsKey())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_, err := r.ps.Receive(ctx)
	cancel()
	if err != nil {
		r.log.Warn("redis: chat tasks not subscribed yet; retrying", "err", err)
	}
	ch := r.ps.Channel()
	var bctx context.Context
	bctx, r.stopBeat = context.WithCancel(context.Background())
	r.bg.Add(2)
	go func() { defer r.bg.Done(); r.listen(ch) }()
	go func() { defer r.bg.Done(); r.beat(bctx) }()
	return r, nil
}

func (r *TasksRedis) tasksKey() string  { return r.cfg.Prefix + "tasks" }
func (r *TasksRedis) eventsKey() string { return r.cfg.Prefix + "tasks:events" }

func (r *TasksRedis) entry(t *Task, now time.Time) []byte {
	b, _ := json.Marshal(taskEntry{ID: t.ID, UserID: t.UserID, ChatID: t.ChatID, MessageID: t.MessageID, Thread: t.Thread,
		Model: t.Model, Started: t.Started.UnixNano(), Key: t.Key, Instance: r.cfg.Instance, Until: now.Add(r.cfg.TTL).UnixMilli()})
	return b
}

// live decodes an entry, nil when it is not a running task's.
func liveEntry(raw string, now time.Time) *Task {
	var e taskEntry
	if json.Unmarshal([]byte(raw), &e) != nil || e.ID == "" || e.Until <= now.UnixMilli() {
		return nil
	}
	return &Task{ID: e.ID, UserID: e.UserID, ChatID: e.ChatID, MessageID: e.MessageID, Thread: e.Thread,
		Model: e.Model, Started: time.Unix(0, e.Started), Key: e.Key}
}

// Claim implements Tasks: listed in Redis before it answers. While Redis
// is away the task still starts, claimed on this instance only (its key
// checked against this instance's tasks), and is listed by the first beat
// that reaches Redis: an outage must not stop the answers.
func (r *TasksRedis) Claim(ctx context.Context, t Task) (*Task, error) {
	task, err := r.local.Claim(ctx, t)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	r.listMu.Lock()
	ok, err := claimScript.Run(ctx, r.cfg.Client, []string{r.tasksKey()},
		task.ID, r.entry(task, now), task.Key, now.UnixMilli()).Int()
	r.listMu.Unlock()
	switch {
	case err != nil && ctx.Err() == nil:
		r.log.Warn("redis: a chat task claimed on this instance only", "task", task.ID, "err", err)
	case err != nil:
		r.local.Release(task)
		return nil, err
	case ok == 0:
		r.local.Release(task)
		return nil, ErrTaskRunning
	}
	return task, nil
}

// Start implements Tasks.
func (r *TasksRedis) Start(t *Task, run func(ctx context.Context, t *Task)) { r.local.Start(t, run) }

// Release implements Tasks.
func (r *TasksRedis) Release(t *Task) { r.local.Release(t) }

// ended unlists a task of this instance and tells the stoppers.
func (r *TasksRedis) ended(t *Task) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r.listMu.Lock()
	err := r.cfg.Client.HDel(ctx, r.tasksKey(), t.ID).Err()
	r.listMu.Unlock()
	if err == nil {
		err = r.publish(ctx, taskEvent{Op: "done", ID: t.ID})
	}
	if err != nil {
		// Its entry expires within TTL; stoppers find it gone then.
		r.log.Warn("redis: a chat task's end not shared", "task", t.ID, "err", err)
	}
	r.wake(t.ID)
}

func (r *TasksRedis) publish(ctx context.Context, ev taskEvent) error {
	b, _ := json.Marshal(ev)
	return r.cfg.Client.Publish(ctx, r.eventsKey(), b).Err()
}

// listen handles the events of every instance.
func (r *TasksRedis) listen(ch <-chan *redis.Message) {
	for m := range ch {
		var ev taskEvent
		if json.Unmarshal([]byte(m.Payload), &ev) != nil {
			continue
		}
		switch ev.Op {
		case "stop":
			cause := ErrTaskStopped
			if ev.Cause == "deleted" {
				cause = ErrTaskDeleted
			}
			r.local.cancel(cause, []string{ev.ID})
		case "done":
			r.wake(ev.ID)
		}
	}
}

// wake tells the stoppers waiting for task id that it ended.
func (r *TasksRedis) wake(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for c := range r.waiters[id] {
		select {
		case c <- struct{}{}:
		default:
		}
	}
}

// beat pushes this instance's entries' deadlines forward, lists them
// again if Redis lost them, and removes long expired entries of instances
// that died.
func (r *TasksRedis) beat(ctx context.Context) {
	tick := time.NewTicker(r.cfg.Beat)
	defer tick.Stop()
	away := false // logged once per outage
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := time.Now()
		r.listMu.Lock()
		mine := r.local.list(func(*Task) bool { return true })
		var err error
		if len(mine) > 0 {
			vals := make([]any, 0, 2*len(mine))
			for _, t := range mine {
				vals = append(vals, t.ID, r.entry(t, now))
			}
			err = r.cfg.Client.HSet(ctx, r.tasksKey(), vals...).Err()
		}
		r.listMu.Unlock()
		if err != nil {
			if !away && ctx.Err() == nil {
				r.log.Warn("redis: chat tasks not refreshed; other instances stop listing them after the TTL", "err", err)
			}
			away = true
			continue
		}
		away = false
		r.sweep(ctx, now)
	}
}

// sweep removes entries expired for a while (their instance died).
func (r *TasksRedis) sweep(ctx context.Context, now time.Time) {
	all, err := r.cfg.Client.HGetAll(ctx, r.tasksKey()).Result()
	if err != nil {
		return
	}
	var old []string
	for id, raw := range all {
		var e taskEntry
		if json.Unmarshal([]byte(raw), &e) != nil || e.Until < now.Add(-r.cfg.TTL).UnixMilli() {
			old = append(old, id)
		}
	}
	if len(old) > 0 {
		_ = r.cfg.Client.HDel(ctx, r.tasksKey(), old...).Err()
	}
}

// Get implements Tasks.
func (r *TasksRedis) Get(ctx context.Context, id string) (*Task, error) {
	if t, ok := r.local.get(id); ok {
		return t, nil
	}
	raw, err := r.cfg.Client.HGet(ctx, r.tasksKey(), id).Result()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNoTask
	} else if err != nil {
		return nil, fmt.Errorf("read the task from redis: %w", err)
	}
	if t := liveEntry(raw, time.Now()); t != nil && t.ID == id {
		return t, nil
	}
	return nil, ErrNoTask
}

// List implements Tasks. While Redis is away it lists this instance's
// tasks only.
func (r *TasksRedis) List(ctx context.Context, keep func(*Task) bool) ([]*Task, error) {
	all, err := r.cfg.Client.HGetAll(ctx, r.tasksKey()).Result()
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		r.log.Warn("redis: chat tasks listed from this instance only", "err", err)
	}
	out := r.local.list(keep) // this instance's, listed or not
	seen := make(map[string]bool, len(out))
	for _, t := range out {
		seen[t.ID] = true
	}
	now := time.Now()
	for id, raw := range all {
		if seen[id] {
			continue
		}
		if _, mine := r.local.get(id); mine {
			continue // not kept above
		}
		if t := liveEntry(raw, now); t != nil && t.ID == id && keep(t) {
			out = append(out, t)
		}
	}
	sortTasks(out)
	return out, nil
}

// Stop implements Tasks.
func (r *TasksRedis) Stop(ctx context.Context, cause error, ids ...string) error {
	var remote []string
	for _, id := range ids {
		if _, ok := r.local.get(id); !ok {
			remote = append(remote, id)
		}
	}
	local := r.local.cancel(cause, ids)
	if err := r.stopRemote(ctx, cause, remote); err != nil {
		return err
	}
	return waitTasks(ctx, local)
}

// stopRemote stops tasks of other instances and waits until each one's end
// is told or its entry is gone (ended, or expired with its instance).
func (r *TasksRedis) stopRemote(ctx context.Context, cause error, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	ev := taskEvent{Op: "stop", Cause: "stopped"}
	if errors.Is(cause, ErrTaskDeleted) {
		ev.Cause = "deleted"
	}
	woke := make(chan struct{}, 1)
	r.mu.Lock()
	for _, id := range ids {
		if r.waiters[id] == nil {
			r.waiters[id] = map[chan struct{}]struct{}{}
		}
		r.waiters[id][woke] = struct{}{}
	}
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		for _, id := range ids {
			delete(r.waiters[id], woke)
			if len(r.waiters[id]) == 0 {
				delete(r.waiters, id)
			}
		}
		r.mu.Unlock()
	}()
	tick := time.NewTicker(r.cfg.Beat)
	defer tick.Stop()
	pending := ids
	for send := true; ; {
		// Which still run? Those ended before the stop was sent included.
		vals, err := r.cfg.Client.HMGet(ctx, r.tasksKey(), pending...).Result()
		if err != nil {
			return fmt.Errorf("read the tasks from redis: %w", err)
		}
		now := time.Now()
		left := pending[:0:0]
		for i, v := range vals {
			if s, ok := v.(string); ok && liveEntry(s, now) != nil {
				left = append(left, pending[i])
			}
		}
		if pending = left; len(pending) == 0 {
			return nil
		}
		if send {
			for _, id := range pending {
				ev.ID = id
				if err := r.publish(ctx, ev); err != nil {
					return fmt.Errorf("send the stop through redis: %w", err)
				}
			}
		}
		select {
		case <-woke:
			send = false
		case <-tick.C:
			send = true // again, in case it was lost
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Shutdown implements Tasks: this instance's tasks end and are unlisted.
func (r *TasksRedis) Shutdown(ctx context.Context) error {
	err := r.local.Shutdown(ctx)
	r.once.Do(func() {
		r.stopBeat()
		_ = r.ps.Close()
		r.bg.Wait()
	})
	return err
}

// kill stops beating and listening without ending or unlisting this
// instance's tasks, as a killed process would (tests).
func (r *TasksRedis) kill() {
	r.once.Do(func() {
		r.stopBeat()
		_ = r.ps.Close()
		r.bg.Wait()
	})
}
