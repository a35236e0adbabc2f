package realtime

import (
	"context"
	"errors"
	"strings"

	"github.com/quire/quire/internal/docid"
	"github.com/quire/quire/storage"
)

// After a gap (docs_remote.go HandleGap) the commands other instances sent
// meanwhile may be lost: DisconnectUser, AccessChanged and NoteDeleted.
// Each was sent after storage changed, so reading storage again does what
// they would have done (resyncAfterGap, channels.go).

// resyncAccountsOnce reads every local socket's account again and drops
// the sockets whose session Verify would now refuse: the account is gone,
// no longer approved, or its session stamp moved (sign-out, role change).
func (s *Server) resyncAccountsOnce() {
	for userID, conns := range s.socketsByAccount(func(*conn) bool { return true }) {
		if s.baseCtx.Err() != nil {
			return
		}
		// The sockets' accounts are read before storage: one that
		// authenticated again since (a new account object) is left alone.
		held := make([]*storage.User, len(conns))
		for i, c := range conns {
			held[i] = c.user.Load()
		}
		ctx, cancel := context.WithTimeout(s.baseCtx, s.cfg.EventTimeout)
		u, err := s.cfg.Store.GetUser(ctx, userID)
		cancel()
		switch {
		case errors.Is(err, storage.ErrNotFound):
			s.disconnectLocal(userID)
		case err != nil:
			if ok, quiet := s.warn.allow("account resync"); ok {
				s.log.Error("account not read again after a gap", "user", userID, "err", err, "suppressed", quiet)
			}
		default:
			for i, c := range conns {
				if (!approved(u) || held[i].SessionStamp != u.SessionStamp) && c.user.Load() == held[i] {
					c.kick("its session was revoked while messages from other instances were lost", "user", userID)
				}
			}
		}
	}
}

// socketsByAccount groups the live, authenticated local sockets that keep
// accepts by their account's id (the passes after a gap read storage once
// per account).
func (s *Server) socketsByAccount(keep func(*conn) bool) map[string][]*conn {
	byUser := map[string][]*conn{}
	s.conns.Range(func(_, v any) bool {
		c := v.(*conn)
		if u := c.user.Load(); u != nil && !c.gone.Load() && keep(c) {
			byUser[u.ID] = append(byUser[u.ID], c)
		}
		return true
	})
	return byUser
}

// resyncNotesOnce treats every note with local sockets in its rooms as if
// its access had changed: cached permissions are dropped and the sockets
// that can no longer read it (all, if it was deleted) are evicted.
func (s *Server) resyncNotesOnce() {
	for _, noteID := range s.reg.noteIDs() {
		if s.baseCtx.Err() != nil {
			return
		}
		s.accessChanged(noteID)
		if err := s.evictLost(noteID); err != nil {
			if ok, quiet := s.warn.allow("note resync"); ok {
				s.log.Error("note access not read again after a gap", "note", noteID, "err", err, "suppressed", quiet)
			}
		}
	}
}

// noteIDs lists the notes whose rooms (note:<id>, doc_note:<id>) have
// local sockets.
func (r *roomRegistry) noteIDs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := map[string]bool{}
	var ids []string
	for room := range r.rooms {
		id, isNote := strings.CutPrefix(room, "note:")
		if docID, isDoc := strings.CutPrefix(room, "doc_"); isDoc {
			_, id, isNote = docid.Parse(docID)
		}
		if isNote && id != "" && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids
}
