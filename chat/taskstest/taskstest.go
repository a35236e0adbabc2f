// Package taskstest is the conformance suite every chat.Tasks
// implementation passes.
package taskstest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/chat"
)

// Run runs the suite. newPair returns two views of one fresh, empty
// registry: two instances sharing it (or the same one twice); they are
// shut down when the case ends.
func Run(t *testing.T, newPair func(t *testing.T) (a, b chat.Tasks)) {
	ctx := context.Background()
	all := func(*chat.Task) bool { return true }
	// hold runs until its context ends, reports the cause, and marks ended
	// just before it returns.
	type held struct {
		cause chan error
		ended atomic.Bool
	}
	hold := func() (*held, func(context.Context, *chat.Task)) {
		h := &held{cause: make(chan error, 1)}
		return h, func(ctx context.Context, _ *chat.Task) {
			<-ctx.Done()
			h.cause <- context.Cause(ctx)
			h.ended.Store(true)
		}
	}

	t.Run("ListedAndStoppedEverywhere", func(t *testing.T) {
		a, b := newPair(t)
		h, run := hold()
		task, err := chat.Go(ctx, a, chat.Task{UserID: "u1", ChatID: "c1", MessageID: "m1", Thread: "r1", Model: "ok"}, run)
		require.NoError(t, err)
		require.NotEmpty(t, task.ID)
		require.False(t, task.Started.IsZero())
		for _, ts := range []chat.Tasks{a, b} {
			got, err := ts.Get(ctx, task.ID)
			require.NoError(t, err)
			require.Equal(t, [6]string{task.ID, "u1", "c1", "m1", "r1", "ok"},
				[6]string{got.ID, got.UserID, got.ChatID, got.MessageID, got.Thread, got.Model})
			require.Equal(t, task.Started.UnixNano(), got.Started.UnixNano())
			lst, err := ts.List(ctx, func(t *chat.Task) bool { return t.UserID == "u1" })
			require.NoError(t, err)
			require.Equal(t, []string{task.ID}, chat.IDs(lst))
			lst, err = ts.List(ctx, func(t *chat.Task) bool { return t.UserID == "u2" })
			require.NoError(t, err)
			require.Empty(t, lst)
		}
		// Stopped from b: the stop answers once the task's function returned.
		require.NoError(t, b.Stop(ctx, chat.ErrTaskStopped, task.ID))
		require.True(t, h.ended.Load(), "Stop answered before the task ended")
		require.ErrorIs(t, <-h.cause, chat.ErrTaskStopped)
		<-task.Done()
		for _, ts := range []chat.Tasks{a, b} {
			_, err := ts.Get(ctx, task.ID)
			require.ErrorIs(t, err, chat.ErrNoTask, "an ended task is forgotten")
			lst, err := ts.List(ctx, all)
			require.NoError(t, err)
			require.Empty(t, lst)
			require.NoError(t, ts.Stop(ctx, chat.ErrTaskStopped, task.ID), "an ended task's stop is nothing")
		}
	})

	t.Run("DeletedCause", func(t *testing.T) {
		a, b := newPair(t)
		h1, run1 := hold()
		h2, run2 := hold()
		t1, err := chat.Go(ctx, a, chat.Task{UserID: "u1", ChatID: "c1", MessageID: "m1"}, run1)
		require.NoError(t, err)
		t2, err := chat.Go(ctx, b, chat.Task{UserID: "u1", ChatID: "c1", MessageID: "m2"}, run2)
		require.NoError(t, err)
		lst, err := a.List(ctx, func(t *chat.Task) bool { return t.ChatID == "c1" })
		require.NoError(t, err)
		require.Equal(t, []string{t1.ID, t2.ID}, chat.IDs(lst), "oldest first")
		// One stop for tasks of both instances, and an unknown id.
		require.NoError(t, a.Stop(ctx, chat.ErrTaskDeleted, t2.ID, "no-such-task", t1.ID))
		require.True(t, h1.ended.Load() && h2.ended.Load(), "Stop answered before the tasks ended")
		require.ErrorIs(t, <-h1.cause, chat.ErrTaskDeleted)
		require.ErrorIs(t, <-h2.cause, chat.ErrTaskDeleted)
	})

	t.Run("OneTaskPerKey", func(t *testing.T) {
		a, b := newPair(t)
		key := chat.AnswerKey("c1", "m1")
		const n = 8
		var wg sync.WaitGroup
		claims := make(chan *chat.Task, 2*n)
		refused := make(chan error, 2*n)
		for i := range 2 * n {
			ts := []chat.Tasks{a, b}[i%2]
			wg.Add(1)
			go func() {
				defer wg.Done()
				task, err := ts.Claim(ctx, chat.Task{UserID: "u1", ChatID: "c1", MessageID: "m1", Key: key})
				if err != nil {
					refused <- err
					return
				}
				claims <- task
			}()
		}
		wg.Wait()
		close(claims)
		close(refused)
		require.Len(t, claims, 1, "exactly one claim of a key")
		for err := range refused {
			require.ErrorIs(t, err, chat.ErrTaskRunning)
		}
		first := <-claims
		// Another key is free; a released claim frees its key.
		other, err := b.Claim(ctx, chat.Task{Key: chat.AnswerKey("c1", "m2")})
		require.NoError(t, err)
		b.Release(other)
		releaseOn(t, a, b, first)
		<-first.Done()
		again, err := b.Claim(ctx, chat.Task{Key: key})
		require.NoError(t, err, "the key is free once its task ended")
		h, run := hold()
		b.Start(again, run)
		require.NoError(t, a.Stop(ctx, chat.ErrTaskStopped, again.ID))
		require.ErrorIs(t, <-h.cause, chat.ErrTaskStopped)
	})

	t.Run("StopBeforeStart", func(t *testing.T) {
		a, _ := newPair(t)
		task, err := a.Claim(ctx, chat.Task{UserID: "u1"})
		require.NoError(t, err)
		stopped := make(chan error, 1)
		go func() { stopped <- a.Stop(ctx, chat.ErrTaskStopped, task.ID) }()
		// The stop waits for the task, which then runs with its context ended.
		h, run := hold()
		a.Start(task, run)
		require.NoError(t, <-stopped)
		require.ErrorIs(t, <-h.cause, chat.ErrTaskStopped)
	})

	t.Run("Shutdown", func(t *testing.T) {
		a, b := newPair(t)
		h, run := hold()
		task, err := chat.Go(ctx, a, chat.Task{UserID: "u1"}, run)
		require.NoError(t, err)
		require.NoError(t, a.Shutdown(ctx))
		require.True(t, h.ended.Load())
		require.ErrorIs(t, <-h.cause, chat.ErrStopped)
		<-task.Done()
		lst, err := b.List(ctx, all)
		require.NoError(t, err)
		if b != a {
			require.Empty(t, lst, "a stopped instance's tasks are unlisted")
		}
		_, err = a.Claim(ctx, chat.Task{})
		require.ErrorIs(t, err, chat.ErrStopped)
		require.NoError(t, a.Shutdown(ctx), "idempotent")
	})
}

// releaseOn releases the claim on whichever of a and b made it: the one
// that lists it as its own (Done is set on the claiming registry's task).
func releaseOn(t *testing.T, a, b chat.Tasks, task *chat.Task) {
	t.Helper()
	for _, ts := range []chat.Tasks{a, b} {
		if got, err := ts.Get(context.Background(), task.ID); err == nil && got.Done() != nil {
			ts.Release(task)
			return
		}
	}
	t.Fatal(errors.New("no registry owns the claim"))
}
