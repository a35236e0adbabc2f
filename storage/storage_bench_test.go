package storage_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/storage"
	"github.com/quire/quire/storage/storagetest"
)

// typingUpdate is one typed character: a typing update is a few dozen bytes.
var typingUpdate = []byte("\x01\x01\xa7\xd4\xc1\xe6\x0b\x05\x84\xa7\xd4\xc1\xe6\x0b\x04\x01x\x00")

// BenchmarkAppendUpdates measures group commit: one op is one AppendUpdates
// call (one durable transaction) of batch small updates spread over docs
// documents.
func BenchmarkAppendUpdates(b *testing.B) {
	ctx := context.Background()
	opens := map[string]func(b *testing.B) storage.Store{
		"sqlite": func(b *testing.B) storage.Store {
			s, err := storage.OpenSQLite(ctx, filepath.Join(b.TempDir(), "quire.db"), nil)
			require.NoError(b, err)
			return s
		},
	}
	if os.Getenv(storagetest.EnvDatabaseURL) != "" {
		opens["postgres"] = func(b *testing.B) storage.Store {
			s, err := storage.OpenPostgres(ctx, storagetest.NewPostgres(b), nil)
			require.NoError(b, err)
			return s
		}
	}
	for _, backend := range []string{"sqlite", "postgres"} {
		open, ok := opens[backend]
		if !ok {
			continue
		}
		for _, batch := range []int{1, 64} {
			for _, docs := range []int{1, 1000} {
				b.Run(fmt.Sprintf("%s/batch=%d/docs=%d", backend, batch, docs), func(b *testing.B) {
					s := open(b)
					defer s.Close()
					data := typingUpdate
					ups := make([]storage.DocUpdate, batch)
					next := 0
					b.ReportAllocs()
					cpu0 := processCPU()
					for b.Loop() {
						for i := range ups {
							ups[i] = storage.DocUpdate{DocID: fmt.Sprintf("note:bench-%d", next%docs), Data: data}
							next++
						}
						// As ydoc's writer calls it: with a deadline.
						cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
						_, err := s.AppendUpdates(cctx, ups)
						cancel()
						if err != nil {
							b.Fatal(err)
						}
					}
					// CPU, not wall time, is what a busy server runs out of
					// (the wall time is mostly the fsync's wait).
					b.ReportMetric(float64(processCPU()-cpu0)/1e3/float64(b.N*batch), "cpu-µs/update")
					b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "updates/s")
				})
			}
		}
	}
}

// BenchmarkPacedFloor measures what a process on this machine pays to wake
// up every 5 ms (bench S2's pace: 200 updates/s), with nothing to do, with
// one durable 12 KB write (a one-update commit writes three or four 4 KB
// WAL frames), and with a one-update AppendUpdates. The first two are
// floors no update path can go below while it persists each update before
// acknowledging it (docs/design.md, "The floor under S2").
//
//	go test -run '^$' -bench PacedFloor -benchtime 1000x ./storage
func BenchmarkPacedFloor(b *testing.B) {
	const pace = 5 * time.Millisecond
	b.Run("sleep", func(b *testing.B) {
		paced(b, pace, func() {})
	})
	b.Run("write+fsync", func(b *testing.B) {
		f, err := os.Create(filepath.Join(b.TempDir(), "log"))
		require.NoError(b, err)
		defer f.Close()
		buf := make([]byte, 12<<10)
		paced(b, pace, func() {
			if _, err := f.WriteAt(buf, 0); err != nil {
				b.Fatal(err)
			}
			if err := f.Sync(); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("append", func(b *testing.B) {
		s, err := storage.OpenSQLite(context.Background(), filepath.Join(b.TempDir(), "quire.db"), nil)
		require.NoError(b, err)
		defer s.Close()
		data := typingUpdate
		ups := make([]storage.DocUpdate, 1)
		next := 0
		paced(b, pace, func() {
			ups[0] = storage.DocUpdate{DocID: fmt.Sprintf("note:bench-%d", next%1000), Data: data}
			next++
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if _, err := s.AppendUpdates(ctx, ups); err != nil {
				b.Fatal(err)
			}
		})
	})
}

// paced runs op once per iteration with a sleep of pace after it, and
// reports the process's CPU and context switches per iteration.
func paced(b *testing.B, pace time.Duration, op func()) {
	cpu0, cs0 := processCPU(), contextSwitches()
	for b.Loop() {
		op()
		time.Sleep(pace)
	}
	b.ReportMetric(float64(processCPU()-cpu0)/1e3/float64(b.N), "cpu-µs/op")
	b.ReportMetric(float64(contextSwitches()-cs0)/float64(b.N), "ctxsw/op")
}

// processCPU is the process's user+system CPU time in nanoseconds.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// contextSwitches is the process's voluntary and involuntary context
// switches: on this virtualised machine each costs tens of µs of CPU, and
// their count does not move with the machine's speed as CPU time does.
func contextSwitches() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Nvcsw + ru.Nivcsw
}

// BenchmarkConnectQueries is what a socket costs the SQLite store on connect
// and join: one op is GetSessionUser (the token's account, checked on every
// connect and API request) and GetNoteAccess (checked on every document
// join). Both run as statements prepared once (docs/design.md, "Scale").
func BenchmarkConnectQueries(b *testing.B) {
	ctx := context.Background()
	s, err := storage.OpenSQLite(ctx, filepath.Join(b.TempDir(), "quire.db"), nil)
	require.NoError(b, err)
	defer s.Close()
	u := &storage.User{ID: "u1", Email: "a@example.com", Role: storage.RoleUser, CreatedAt: 1}
	require.NoError(b, s.CreateUser(ctx, u))
	n := &storage.Note{ID: "n1", UserID: "u1", Title: "t", AccessGrants: []storage.AccessGrant{{PrincipalType: "user", PrincipalID: "u2", Permission: storage.PermRead}}}
	require.NoError(b, s.CreateNote(ctx, n))
	b.ReportAllocs()
	cpu0 := processCPU()
	for b.Loop() {
		got, revoked, err := s.GetSessionUser(ctx, "u1", "jti")
		if err != nil || revoked || got.ID != "u1" {
			b.Fatal(got, revoked, err)
		}
		note, err := s.GetNoteAccess(ctx, "n1")
		if err != nil || len(note.AccessGrants) != 1 {
			b.Fatal(note, err)
		}
	}
	b.ReportMetric(float64(processCPU()-cpu0)/1e3/float64(b.N), "cpu-µs/op")
}
