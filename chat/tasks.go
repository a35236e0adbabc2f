package chat

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Errors of the task registry.
var (
	// ErrTaskStopped is the cause a stopped task's context ends with.
	ErrTaskStopped = errors.New("the answer was stopped")
	// ErrTaskDeleted is the cause a task's context ends with when what it
	// writes into was deleted: it stores and tells nothing more.
	ErrTaskDeleted = errors.New("the answer was deleted")
	// ErrTaskRunning: Claim found a running task with the same Key.
	ErrTaskRunning = errors.New("an answer is being written there already")
	// ErrNoTask: no such task runs (on any instance).
	ErrNoTask = errors.New("no such task")
)

// Task is one background completion (task mode, protocol §5.3). Its fields
// are set before it starts and never change.
type Task struct {
	ID        string
	UserID    string // the account that asked
	ChatID    string
	MessageID string // the assistant message it answers into
	// Thread is the message a channel answer's reply belongs to (its
	// thread's root, "" for a top-level reply): deleting the root ends it.
	Thread  string
	Model   string
	Started time.Time
	// Key, unless "", is exclusive: no two running tasks share it
	// (AnswerKey: one writer per answer).
	Key string

	ctx    context.Context
	cancel context.CancelCauseFunc
	done   chan struct{} // nil: a task of another instance
}

// Done is closed when the task's function has returned; nil for a task
// listed by another instance.
func (t *Task) Done() <-chan struct{} { return t.done }

// AnswerKey is the Key of a task writing into message messageID of chat
// chatID: Claim refuses a second one.
func AnswerKey(chatID, messageID string) string {
	b, _ := json.Marshal([2]string{chatID, messageID})
	return string(b)
}

// Tasks runs background completions and lists the running ones, so that
// they can be listed and stopped, from every instance sharing the
// registry (TasksMemory: this process; TasksRedis: every instance on one
// Redis prefix). A task outlives the request that started it and ends
// with Shutdown.
type Tasks interface {
	// Claim lists a task like t (a fresh ID and start time are set) as
	// running, or answers ErrTaskRunning when a running task has t.Key,
	// ErrStopped after Shutdown. The claim must then be Started or
	// Released. A stop before Start ends the task's context at once.
	Claim(ctx context.Context, t Task) (*Task, error)
	// Start runs run in its own goroutine with the task's context, which
	// ends on Stop (its cause) or Shutdown (cause ErrStopped). The task is
	// listed until run returns.
	Start(t *Task, run func(ctx context.Context, t *Task))
	// Release unlists a claim that will not start.
	Release(t *Task)
	// Get returns the running task id, or ErrNoTask.
	Get(ctx context.Context, id string) (*Task, error)
	// List returns the running tasks keep accepts, oldest first.
	List(ctx context.Context, keep func(*Task) bool) ([]*Task, error)
	// Stop ends the tasks ids (unknown ones are skipped) with cause
	// (ErrTaskStopped or ErrTaskDeleted), wherever they run, and returns
	// once they have ended (their function returned), or the instance
	// running one is gone, or ctx ends (its error).
	Stop(ctx context.Context, cause error, ids ...string) error
	// Shutdown refuses new tasks, ends this instance's running ones
	// (cause ErrStopped) and waits for them, or for ctx. Idempotent.
	Shutdown(ctx context.Context) error
}

// Go claims a task like t and starts run on it.
func Go(ctx context.Context, ts Tasks, t Task, run func(ctx context.Context, t *Task)) (*Task, error) {
	task, err := ts.Claim(ctx, t)
	if err != nil {
		return nil, err
	}
	ts.Start(task, run)
	return task, nil
}

// IDs are the tasks' ids.
func IDs(ts []*Task) []string {
	ids := make([]string, 0, len(ts))
	for _, t := range ts {
		ids = append(ids, t.ID)
	}
	return ids
}
