package chat

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
)

// TasksMemory is the registry of one process (no --redis-url).
type TasksMemory struct {
	mu     sync.Mutex
	byID   map[string]*Task
	byKey  map[string]string // Key → ID
	closed bool
	wg     sync.WaitGroup

	base context.Context // parent of every task's context
	stop context.CancelCauseFunc

	// ended, when set, runs once a task is unlisted, before its Done
	// closes (TasksRedis unlists it there).
	ended func(*Task)
}

var _ Tasks = (*TasksMemory)(nil)

// NewTasksMemory returns an empty registry.
func NewTasksMemory() *TasksMemory {
	base, stop := context.WithCancelCause(context.Background())
	return &TasksMemory{byID: map[string]*Task{}, byKey: map[string]string{}, base: base, stop: stop}
}

// Claim implements Tasks.
func (ts *TasksMemory) Claim(_ context.Context, t Task) (*Task, error) {
	task := &t
	task.ID, task.Started, task.done = uuid.NewString(), time.Now(), make(chan struct{})
	task.ctx, task.cancel = context.WithCancelCause(ts.base)
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.closed {
		task.cancel(ErrStopped)
		return nil, ErrStopped
	}
	if _, ok := ts.byKey[task.Key]; ok && task.Key != "" {
		task.cancel(ErrTaskRunning)
		return nil, ErrTaskRunning
	}
	ts.byID[task.ID] = task
	if task.Key != "" {
		ts.byKey[task.Key] = task.ID
	}
	ts.wg.Add(1)
	return task, nil
}

// Start implements Tasks.
func (ts *TasksMemory) Start(task *Task, run func(ctx context.Context, t *Task)) {
	go func() {
		defer ts.finish(task)
		run(task.ctx, task)
	}()
}

// Release implements Tasks.
func (ts *TasksMemory) Release(task *Task) { ts.finish(task) }

func (ts *TasksMemory) finish(task *Task) {
	task.cancel(nil)
	ts.mu.Lock()
	delete(ts.byID, task.ID)
	if task.Key != "" && ts.byKey[task.Key] == task.ID {
		delete(ts.byKey, task.Key)
	}
	ts.mu.Unlock()
	if ts.ended != nil {
		ts.ended(task)
	}
	close(task.done)
	ts.wg.Done()
}

func (ts *TasksMemory) get(id string) (*Task, bool) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	t, ok := ts.byID[id]
	return t, ok
}

// Get implements Tasks.
func (ts *TasksMemory) Get(_ context.Context, id string) (*Task, error) {
	if t, ok := ts.get(id); ok {
		return t, nil
	}
	return nil, ErrNoTask
}

// List implements Tasks.
func (ts *TasksMemory) List(_ context.Context, keep func(*Task) bool) ([]*Task, error) {
	return ts.list(keep), nil
}

func (ts *TasksMemory) list(keep func(*Task) bool) []*Task {
	ts.mu.Lock()
	out := make([]*Task, 0, len(ts.byID))
	for _, t := range ts.byID {
		if keep(t) {
			out = append(out, t)
		}
	}
	ts.mu.Unlock()
	sortTasks(out)
	return out
}

func sortTasks(ts []*Task) {
	slices.SortFunc(ts, func(a, b *Task) int {
		return cmp.Or(a.Started.Compare(b.Started), cmp.Compare(a.ID, b.ID))
	})
}

// Stop implements Tasks.
func (ts *TasksMemory) Stop(ctx context.Context, cause error, ids ...string) error {
	return waitTasks(ctx, ts.cancel(cause, ids))
}

// cancel ends the contexts of the tasks ids running here and returns
// their Done channels.
func (ts *TasksMemory) cancel(cause error, ids []string) []<-chan struct{} {
	var done []<-chan struct{}
	for _, id := range ids {
		if t, ok := ts.get(id); ok {
			t.cancel(cause)
			done = append(done, t.done)
		}
	}
	return done
}

func waitTasks(ctx context.Context, done []<-chan struct{}) error {
	for _, d := range done {
		select {
		case <-d:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Shutdown implements Tasks.
func (ts *TasksMemory) Shutdown(ctx context.Context) error {
	ts.mu.Lock()
	ts.closed = true
	ts.mu.Unlock()
	ts.stop(ErrStopped)
	waited := make(chan struct{})
	go func() {
		ts.wg.Wait()
		close(waited)
	}()
	select {
	case <-waited:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
