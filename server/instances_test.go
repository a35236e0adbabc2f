package server_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	y "github.com/skyterra/y-crdt"
	"github.com/stretchr/testify/require"

	"github.com/quire/quire/internal/nodetest"
	"github.com/quire/quire/internal/redistest"
	"github.com/quire/quire/quiretest"
	"github.com/quire/quire/server"
	"github.com/quire/quire/storage/storagetest"
)

// TestTwoInstancesShareDocuments: two in-process servers on one PostgreSQL
// database and one Redis prefix. A token issued by one works on the other;
// sockets on each edit one note and converge; each instance's live copy
// holds both edits (applied from the other through Redis), and each update
// is stored once.
func TestTwoInstancesShareDocuments(t *testing.T) {
	t.Parallel()
	redisURL := redistest.URL(t)
	db := storagetest.NewPostgres(t)
	prefix := redistest.Prefix(t, redistest.Client(t))
	shared := quiretest.WithConfig(func(c *server.Config) { c.RedisURL, c.RedisPrefix = redisURL, prefix })
	a := quiretest.New(t, quiretest.WithDatabaseURL(db), shared)
	b := quiretest.New(t, quiretest.WithDatabaseURL(db), shared)

	ann := a.SignUp("Ann")
	bob := b.SignUp("Bob")
	note := a.CreateNote(ann.Token, "shared", "")
	a.Share(ann.Token, note, bob.ID, "write")

	script := nodetest.Start(t, filepath.Join("testdata", "twoinstances.mjs"),
		"ws"+strings.TrimPrefix(a.URL, "http"), "ws"+strings.TrimPrefix(b.URL, "http"), note, ann.Token, bob.Token)
	var got struct{ Text string }
	script.Next(&got)
	require.Contains(t, got.Text, "from A. ")
	require.Contains(t, got.Text, "from B. ")

	// Both live copies hold both edits: the same state vector, two clients.
	ctx := context.Background()
	docID := "note:" + note
	var svs []map[y.Number]y.Number
	deadline := time.Now().Add(20 * time.Second)
	for _, s := range []*quiretest.Server{a, b} {
		for {
			st, err := s.Docs().State(ctx, docID)
			require.NoError(t, err)
			sv := y.DecodeStateVector(y.EncodeStateVectorFromUpdate(st.Update))
			if len(sv) == 2 || time.Now().After(deadline) {
				svs = append(svs, sv)
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	require.Len(t, svs[0], 2, "instance A's copy lacks an edit")
	require.Equal(t, svs[0], svs[1], "the instances' live copies differ")
	stored, err := a.Store().LoadDocument(ctx, docID)
	require.NoError(t, err)
	require.Len(t, stored.Records, 2, "each update is stored once, by the instance that received it")
}
