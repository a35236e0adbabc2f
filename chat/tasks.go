package chat

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
)

// ErrTaskStopped is the cause a stopped task's context ends with.
var ErrTaskStopped = errors.New("the answer was stopped")

// Task is one background completion (task mode, protocol §5.3). Its fields
// are set before it starts and never change.
type Task struct {
	ID        string
	UserID    string // the account that asked
	ChatID    string
	MessageID string // the assistant message it answers into
	Model     string
	Started   time.Time

	cancel context.CancelCauseFunc
	done   chan struct{}
}

// Done is closed when the task's function has returned.
func (t *Task) Done() <-chan struct{} { return t.done }

// Tasks runs background completions and remembers the running ones, so
// that they can be listed and stopped. A task outlives the request that
// started it and ends with Shutdown.
type Tasks struct {
	mu     sync.Mutex
	byID   map[string]*Task
	closed bool
	wg     sync.WaitGroup

	base context.Context // parent of every task's context
	stop context.CancelCauseFunc
}

// NewTasks returns an empty registry.
func NewTasks() *Tasks {
	base, stop := context.WithCancelCause(context.Background())
	return &Tasks{byID: map[string]*Task{}, base: base, stop: stop}
}

// Go registers a task like t (a fresh ID and start time are set) and runs
// run in its own goroutine with the task's context, which ends on Stop
// (cause ErrTaskStopped) or Shutdown (cause ErrStopped). The task is
// listed until run returns. After Shutdown it answers ErrStopped.
func (ts *Tasks) Go(t Task, run func(ctx context.Context, t *Task)) (*Task, error) {
	task := &t
	task.ID, task.Started, task.done = uuid.NewString(), time.Now(), make(chan struct{})
	var ctx context.Context
	ctx, task.cancel = context.WithCancelCause(ts.base)
	ts.mu.Lock()
	if ts.closed {
		ts.mu.Unlock()
		task.cancel(ErrStopped)
		return nil, ErrStopped
	}
	ts.byID[task.ID] = task
	ts.wg.Add(1)
	ts.mu.Unlock()
	go func() {
		defer ts.wg.Done()
		defer close(task.done)
		defer task.cancel(nil)
		defer ts.forget(task.ID)
		run(ctx, task)
	}()
	return task, nil
}

func (ts *Tasks) forget(id string) {
	ts.mu.Lock()
	delete(ts.byID, id)
	ts.mu.Unlock()
}

// Get returns the running task id.
func (ts *Tasks) Get(id string) (*Task, bool) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	t, ok := ts.byID[id]
	return t, ok
}

// List returns the running tasks keep accepts, oldest first.
func (ts *Tasks) List(keep func(*Task) bool) []*Task {
	ts.mu.Lock()
	out := make([]*Task, 0, len(ts.byID))
	for _, t := range ts.byID {
		if keep(t) {
			out = append(out, t)
		}
	}
	ts.mu.Unlock()
	slices.SortFunc(out, func(a, b *Task) int {
		return cmp.Or(a.Started.Compare(b.Started), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// Stop ends the task's context with ErrTaskStopped; the task then winds up
// (Done). False when no such task runs.
func (ts *Tasks) Stop(id string) bool {
	t, ok := ts.Get(id)
	if ok {
		t.cancel(ErrTaskStopped)
	}
	return ok
}

// Shutdown refuses new tasks, ends every running one (cause ErrStopped)
// and waits for them, or for ctx. Idempotent.
func (ts *Tasks) Shutdown(ctx context.Context) error {
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
