package realtime_test

import (
	"context"
	"sync"

	"github.com/quire/quire/realtime"
)

// testDocs is a stand-in for the ydoc manager while it is being built: it
// keeps each document's updates and relays them like the manager does.
// TODO(realtime): replace with the real ydoc.Manager once it lands.
type testDocs struct {
	mu        sync.Mutex
	updates   map[string][][]byte
	sessions  map[string]map[string]bool
	broadcast func(docID string, update []byte, exceptSID string)
}

func newTestDocs() *testDocs {
	return &testDocs{updates: map[string][][]byte{}, sessions: map[string]map[string]bool{}}
}

func (d *testDocs) Join(_ context.Context, docID, sid string) (realtime.DocState, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.sessions[docID] == nil {
		d.sessions[docID] = map[string]bool{}
	}
	d.sessions[docID][sid] = true
	return realtime.DocState{Update: []byte{0, 0}, JSON: []byte("[0,0]")}, nil
}

func (d *testDocs) Leave(_ context.Context, docID, sid string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.sessions[docID], sid)
}

func (d *testDocs) State(ctx context.Context, docID string) (realtime.DocState, error) {
	return realtime.DocState{Update: []byte{0, 0}, JSON: []byte("[0,0]")}, nil
}

func (d *testDocs) Apply(_ context.Context, docID, sid string, update []byte) error {
	d.mu.Lock()
	d.updates[docID] = append(d.updates[docID], update)
	d.mu.Unlock()
	d.broadcast(docID, update, sid)
	return nil
}

func (d *testDocs) count(docID string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.updates[docID])
}

func (d *testDocs) live(docID string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.sessions[docID])
}
