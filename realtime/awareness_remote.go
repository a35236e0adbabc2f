package realtime

import (
	"encoding/json"
	"strings"
	"sync"
)

// Awareness across instances: what another instance's sockets send is
// relayed here by the broker like any room message, and also remembered in
// this instance's registry under a remote socket id, so that a socket that
// joins here gets their cursors with the document (onDocJoin's States).
// Remote states are forgotten when this instance stops subscribing to the
// document (it no longer hears their removals) and when their instance
// stops beating (its sockets will never send removals); this instance's
// sockets then get the removals, so no ghost cursor stays.

// PeerGoneHandler is the optional part of a BrokerHandler that a Broker
// tells when another instance has stopped (killed, or cut off).
type PeerGoneHandler interface {
	HandlePeerGone(instance string)
}

var _ PeerGoneHandler = delivery{}

// remoteAwareness tracks the remote socket ids with states per document.
type remoteAwareness struct {
	mu    sync.Mutex
	byDoc map[string]map[string]struct{} // doc id → remote sids
}

// remoteSID names another instance's socket in the registry.
func remoteSID(o Origin) string { return "remote:" + o.Instance + ":" + o.SID }

// remoteAwarenessUpdate remembers another instance's awareness update.
func (s *Server) remoteAwarenessUpdate(m Message) {
	docID, isDoc := strings.CutPrefix(m.Room, "doc_")
	if !isDoc || m.Event != evAwareness || m.Origin.Instance == s.cfg.Instance || m.Origin.SID == "" {
		return
	}
	var p struct {
		Update json.RawMessage `json:"update"`
	}
	if json.Unmarshal(m.Payload, &p) != nil || len(p.Update) == 0 || p.Update[0] != '[' {
		return
	}
	update, valid := byteArray(p.Update)
	if !valid {
		return
	}
	rsid := remoteSID(m.Origin)
	if _, err := s.cfg.Awareness.Apply(docID, rsid, m.Origin.UserID, update); err != nil {
		s.log.Debug("awareness from another instance not remembered", "doc", docID, "err", err)
		return
	}
	r := &s.remoteAw
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byDoc == nil {
		r.byDoc = map[string]map[string]struct{}{}
	}
	if r.byDoc[docID] == nil {
		r.byDoc[docID] = map[string]struct{}{}
	}
	r.byDoc[docID][rsid] = struct{}{}
}

// unsubscribedDoc forgets the remote states of a document this instance
// no longer hears about (no local socket is left to show them to).
func (s *Server) unsubscribedDoc(room string) {
	docID, isDoc := strings.CutPrefix(room, "doc_")
	if !isDoc {
		return
	}
	r := &s.remoteAw
	r.mu.Lock()
	sids := r.byDoc[docID]
	delete(r.byDoc, docID)
	r.mu.Unlock()
	for rsid := range sids {
		s.cfg.Awareness.Remove(docID, rsid)
	}
}

// HandlePeerGone implements PeerGoneHandler: the states of the gone
// instance's sockets are removed, and this instance's sockets told.
func (d delivery) HandlePeerGone(instance string) {
	s := d.s
	prefix := remoteSID(Origin{Instance: instance})
	r := &s.remoteAw
	gone := map[string][]string{}
	r.mu.Lock()
	for docID, sids := range r.byDoc {
		for rsid := range sids {
			if strings.HasPrefix(rsid, prefix) {
				gone[docID] = append(gone[docID], rsid)
				delete(sids, rsid)
			}
		}
	}
	r.mu.Unlock()
	for docID, rsids := range gone {
		for _, rsid := range rsids {
			if u := s.cfg.Awareness.Remove(docID, rsid); u != nil {
				s.toRoomDirect(docRoom(docID), "", evAwareness, newObject(len(u)*4).
					str("document_id", docID).str("user_id", "").ints("update", u).done())
			}
		}
	}
}
