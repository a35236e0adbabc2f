package ydoc

import (
	"context"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/quire/quire/storage"
)

// TestCommitLingerSharesOneCommit: with a commit linger, updates of several
// documents sent at once go to the log in one commit (one transaction, one
// fsync), and each is acknowledged and relayed after it. Without a linger
// the first is committed alone as soon as it arrives.
func TestCommitLingerSharesOneCommit(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(testing.TB) storage.Store) {
		store := open(t)
		b := startManager(t, store, Config{CommitLinger: MaxCommitLinger})
		ctx := context.Background()
		const n = 8
		docs := make([]string, n)
		for i := range docs {
			docs[i] = newNote(t, store, `{}`)
			_, err := b.m.Join(ctx, docs[i], "s")
			require.NoError(t, err)
		}
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range docs {
			wg.Go(func() { errs[i] = b.m.Apply(ctx, docs[i], "s", newPeer().insert(0, "x")) })
		}
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
		var m dto.Metric
		require.NoError(t, b.m.met.commitBatch.Write(&m))
		require.EqualValues(t, 1, m.Histogram.GetSampleCount(), "commits")
		require.EqualValues(t, n, m.Histogram.GetSampleSum(), "updates committed")
		var d dto.Metric
		require.NoError(t, b.m.met.commitSeconds.Write(&d))
		require.EqualValues(t, 1, d.Histogram.GetSampleCount(), "commit durations")
		require.Positive(t, d.Histogram.GetSampleSum(), "the commit took time")
		require.Len(t, b.rec.all(), n, "every update relayed after its commit")
		for _, d := range docs {
			st, err := store.LoadDocument(ctx, d)
			require.NoError(t, err)
			require.Len(t, st.Records, 1)
		}
	})
}

// TestCommitLingerBounds: a negative linger or one above MaxCommitLinger is
// refused, naming the flag.
func TestCommitLingerBounds(t *testing.T) {
	for _, d := range []time.Duration{-time.Millisecond, MaxCommitLinger + time.Nanosecond} {
		_, err := NewManager(Config{Store: openSQLiteForBounds(t), CommitLinger: d})
		require.ErrorContains(t, err, "--commit-linger")
	}
	_, err := NewManager(Config{Store: openSQLiteForBounds(t), CommitLinger: MaxCommitLinger})
	require.NoError(t, err)
}

func openSQLiteForBounds(t *testing.T) storage.Store { return storeKinds()[0].open(t) }
