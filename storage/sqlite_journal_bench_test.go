package storage

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
)

// BenchmarkAppendUpdatesConcurrent: 16 documents' writers appending at
// once, as a busy server's do; with group commit they share syncs.
func BenchmarkAppendUpdatesConcurrent(b *testing.B) {
	ctx := context.Background()
	s, err := OpenSQLite(ctx, filepath.Join(b.TempDir(), "quire.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	data := make([]byte, 200)
	var doc atomic.Int64
	b.SetParallelism(8) // × GOMAXPROCS goroutines
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		id := fmt.Sprintf("note:%d", doc.Add(1))
		for pb.Next() {
			if _, err := s.AppendUpdates(ctx, []DocUpdate{{DocID: id, Data: data}}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
