package realtime

import (
	"context"
	"encoding/json"

	"github.com/zishang520/socket.io/servers/socket/v3"

	"github.com/quire/quire/auth"
	"github.com/quire/quire/storage"
	"github.com/quire/quire/wire"
)

const evNote = "events:note"

// EmitNote is called after a note changed over REST: every socket's cached
// permission on it is invalidated (access.go), sockets whose account can no
// longer read it leave its rooms (note:<id> and its document, as on
// ydoc:document:leave), then the rest of note:<id> gets events:note.
func (s *Server) EmitNote(n *storage.Note) {
	accessChanged(n.ID) // before returning: the caller's answer means the new access is in force
	lost := s.evict(n.ID, func(u *storage.User) bool {
		return u != nil && auth.CanAccessNote(u, n, storage.PermRead)
	}, false)
	b, err := json.Marshal(wire.NoteOf(n))
	if err != nil {
		s.log.Error("encode note event", "note", n.ID, "err", err)
		return
	}
	// The evicted sockets leave on their own workers, maybe after this
	// emit: exclude them here so a revoked reader never sees the note.
	op := s.io.To(socket.Room(noteRoom(n.ID)))
	for _, sid := range lost {
		op = op.Except(socket.Room(sid))
	}
	s.met.broadcastBytes.Add(float64(len(b)))
	if err := op.Emit(evNote, preEncoded(b)); err != nil {
		s.log.Error("broadcast failed", "event", evNote, "err", err)
	}
}

// NoteDeleted removes every socket from the deleted note's rooms; their
// further events for its document are refused as unknown_document.
func (s *Server) NoteDeleted(noteID string) {
	accessChanged(noteID)
	s.evict(noteID, func(*storage.User) bool { return false }, true)
}

// evict makes every local socket in note:<id> or doc_note:<id> whose
// account keep refuses leave both rooms, through its own worker (the
// rooms it joined are worker-owned), and returns their ids. A socket
// whose queue is full is disconnected instead: losing access must not wait.
func (s *Server) evict(noteID string, keep func(*storage.User) bool, deleted bool) []string {
	docID := "note:" + noteID
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
			if !c.enqueue(func() { c.leaveNote(noteID, docID, deleted) }, false) && !c.gone.Load() {
				c.kick("event queue full while it lost access", "note", noteID)
			}
		}
	}
	return lost
}

// leaveNote (worker) leaves note:<id> and the note's document.
func (c *conn) leaveNote(noteID, docID string, deleted bool) {
	c.sock.Leave(socket.Room(noteRoom(noteID)))
	if deleted {
		if c.deleted == nil {
			c.deleted = make(map[string]struct{}, 1)
		}
		c.deleted[docID] = struct{}{}
	}
	if _, in := c.docs[docID]; !in {
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
