package realtime

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/quire/quire/auth"
	"github.com/quire/quire/internal/docid"
	"github.com/quire/quire/storage"
	"github.com/quire/quire/wire"
)

const evNote = "events:note"

// EmitNote is called after a note changed over REST. Every instance drops
// its sockets' cached permission on it (access.go) and evicts the sockets
// whose account can no longer read it from its rooms (note:<id> and its
// document, as on ydoc:document:leave), this one before EmitNote returns;
// then the rest of note:<id> gets events:note.
func (s *Server) EmitNote(n *storage.Note) {
	s.command(Command{Kind: CommandAccessChanged, NoteID: n.ID})
	b, err := json.Marshal(wire.NoteOf(n))
	if err != nil {
		s.log.Error("encode note event", "note", n.ID, "err", err)
		return
	}
	s.publish(Message{Room: noteRoom(n.ID), Event: evNote, Payload: b, Origin: s.origin("")})
}

// NoteDeleted removes every socket from the deleted note's rooms, on every
// instance; their further events for its document are refused as
// unknown_document.
func (s *Server) NoteDeleted(noteID string) {
	s.command(Command{Kind: CommandNoteDeleted, NoteID: noteID})
}

// evictLost evicts the local sockets that can no longer read the note, as
// storage says now (a deleted note evicts everyone). An error means it
// cannot tell who lost access: callers bumped the epoch first, so every
// socket's next event on the note reads its access from storage again.
func (s *Server) evictLost(noteID string) error {
	ctx, cancel := context.WithTimeout(s.baseCtx, s.cfg.EventTimeout)
	defer cancel()
	n, err := s.noteAccess(ctx, noteID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		s.evict(noteID, func(*storage.User) bool { return false }, true)
	case err != nil:
		return err
	default:
		s.evict(noteID, func(u *storage.User) bool {
			return u != nil && auth.CanAccessNote(u, n, storage.PermRead)
		}, false)
	}
	return nil
}

// evict makes every local socket in note:<id> or doc_note:<id> whose
// account keep refuses leave both rooms, through its own worker (the
// rooms it joined are worker-owned), and returns their ids. Until the
// worker has left, the socket is marked leaving both rooms, so nothing
// sent to them reaches it meanwhile. A socket whose queue is full is
// disconnected instead: losing access must not wait.
func (s *Server) evict(noteID string, keep func(*storage.User) bool, deleted bool) []string {
	docID := docid.Note(noteID)
	var lost []string
	seen := map[string]bool{}
	for _, room := range []string{noteRoom(noteID), docRoom(docID)} {
		for _, sid := range s.roomMembers(room) {
			if seen[sid] {
				continue
			}
			seen[sid] = true
			v, found := s.conns.Load(sid)
			if !found {
				continue
			}
			c := v.(*conn)
			if keep(c.user.Load()) {
				continue
			}
			lost = append(lost, sid)
			rooms := []string{noteRoom(noteID), docRoom(docID)}
			c.markLeaving(rooms, 1)
			if !c.enqueue(func() {
				defer c.markLeaving(rooms, -1)
				c.leaveNote(noteID, docID, deleted)
			}, false) && !c.gone.Load() {
				c.kick("event queue full while it lost access", "note", noteID)
			}
		}
	}
	return lost
}

// leaveNote (worker) leaves note:<id> and the note's document.
func (c *conn) leaveNote(noteID, docID string, deleted bool) {
	c.leave(noteRoom(noteID))
	if deleted {
		if c.deleted == nil {
			c.deleted = make(map[string]struct{}, 1)
		}
		c.deleted[docID] = struct{}{}
	}
	if !c.docs.has(docID) {
		return
	}
	ctx, cancel := context.WithTimeout(c.srv.baseCtx, c.srv.cfg.EventTimeout)
	defer cancel()
	c.leaveDoc(ctx, docID)
	// The room heard ydoc:user:left; so does the socket, which did not ask.
	userID := ""
	if u := c.user.Load(); u != nil {
		userID = u.ID
	}
	c.emit(evUserLeft, newObject(0).str("document_id", docID).str("user_id", userID).done())
}
