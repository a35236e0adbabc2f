package realtime

import (
	"context"
	"errors"
	"hash/maphash"
	"sync/atomic"

	"github.com/quire/quire/auth"
	"github.com/quire/quire/storage"
)

// A socket's permission on each document it joined is computed once, at
// join, and kept with the joined document (conn.docs, worker-owned): the
// updates, awareness and state requests that follow read no storage.
//
// It stays right through access changes by invalidation, not by pushing new
// values. Every access change goes through EmitNote (access/update, note
// update) or NoteDeleted after storage changed, and both bump the note's
// access epoch before they return, so before the REST answer. A socket's
// next event on that note sees the epoch moved and reads the note's access
// from storage again. The epoch is read before storage, so a permission
// computed from grants older than a bump always carries an older epoch,
// including one computed by a join that raced the change and was not yet in
// the rooms EmitNote walks. The grants EmitNote gets are not trusted for
// this: two concurrent changes can reach EmitNote in the other order than
// they reached storage. Account changes (role, sign-out, deletion) drop the
// sockets (DisconnectUser); a socket whose account object changed
// (user-join with a fresh token) recomputes too, and one that user-joins
// another account leaves its documents (setUser). Epochs are per Server; the bump reaches every
// instance as a broker command (CommandAccessChanged), delivered to this
// one before EmitNote returns.

// perm is a cached permission level.
type perm uint8

const (
	permNone perm = iota
	permRead
	permWrite
)

// docAccess is a joined document's cached permission.
type docAccess struct {
	user  *storage.User // the account it was computed for
	epoch uint64        // the note's access epoch read before storage was
	perm  perm
}

// accessEpochs are a Server's notes' access epochs, hashed into shards: a
// bump also invalidates the other notes of its shard, which costs them one
// storage read each, never a wrong answer.
type accessEpochs struct {
	seed   maphash.Seed
	shards [4096]atomic.Uint64
}

func newAccessEpochs() *accessEpochs { return &accessEpochs{seed: maphash.MakeSeed()} }

func (e *accessEpochs) of(noteID string) *atomic.Uint64 {
	return &e.shards[maphash.String(e.seed, noteID)%uint64(len(e.shards))]
}

// accessEpoch is the note's epoch on this server.
func (s *Server) accessEpoch(noteID string) *atomic.Uint64 { return s.epochs.of(noteID) }

// accessChanged invalidates every local socket's cached permission on the note.
func (s *Server) accessChanged(noteID string) { s.epochs.of(noteID).Add(1) }

// loadAccess reads u's permission on the note from storage, stamped with
// the epoch read first.
func (c *conn) loadAccess(ctx context.Context, u *storage.User, noteID string) (docAccess, reply) {
	epoch := c.srv.accessEpoch(noteID).Load()
	n, err := c.srv.noteAccess(ctx, noteID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return docAccess{}, fail(reasonUnknownDocument)
	case err != nil:
		c.logErr("note lookup failed", err, "note", noteID)
		return docAccess{}, fail(reasonUnavailable)
	}
	a := docAccess{user: u, epoch: epoch}
	switch {
	case auth.CanAccessNote(u, n, storage.PermWrite):
		a.perm = permWrite
	case auth.CanAccessNote(u, n, storage.PermRead):
		a.perm = permRead
	}
	return a, ok()
}

// allows: the failure for a socket with permission a wanting want.
func (a docAccess) allows(want perm) reply {
	if a.perm < want {
		return fail(reasonForbidden)
	}
	return ok()
}

// checkJoined (worker): the socket, which joined docID, has want on it, by
// its cached permission while that is current, else from storage (and the
// cache is refreshed).
func (c *conn) checkJoined(ctx context.Context, docID, noteID string, want perm) reply {
	a, _ := c.docs.get(docID)
	u := c.user.Load()
	if a.user == u && a.epoch == c.srv.accessEpoch(noteID).Load() {
		return a.allows(want)
	}
	a, r := c.loadAccess(ctx, u, noteID)
	if r.reason != "" {
		return r
	}
	c.docs.set(docID, a)
	return a.allows(want)
}
