package realtime

import (
	"encoding/json"
	"strings"
)

// Documents across instances. Every instance stores its own sockets'
// updates in the shared log and relays them once durable; another instance
// writes them to its sockets (HandleMessage) and, when it holds the
// document live, applies them to its copy (RemoteDocs), so that joins and
// compactions there see them. Where the broker may have lost messages it
// says so (GapHandler) and the live documents read the log again.

// RemoteDocs is what Config.Docs offers for other instances' updates
// (*ydoc.Manager does); without it an instance relays them to its sockets
// only.
type RemoteDocs interface {
	// Live reports whether the document is loaded here.
	Live(docID string) bool
	// ApplyRemote queues an update another instance stored; never blocks.
	ApplyRemote(docID string, update []byte)
	// Resync makes a live document ("" for all) read its log and apply and
	// relay locally what it lacks.
	Resync(docID string)
}

// GapHandler is the optional part of a BrokerHandler that a Broker tells
// when messages to this instance may have been lost: its subscription
// reconnected, or another instance failed to publish some.
type GapHandler interface {
	HandleGap()
}

// CrossInstance is the optional part of a Broker that reaches other
// processes (the Redis one); a document whose room this instance starts
// subscribing to then reads its log once more, for the updates stored
// between its load and the subscription.
type CrossInstance interface {
	CrossInstance() bool
}

var _ GapHandler = delivery{}

// HandleGap implements GapHandler: every live document reads its log, and
// the sockets' accounts, notes' access and channel rooms are read again
// from storage.
func (d delivery) HandleGap() {
	d.s.resyncAfterGap()
	if rd, ok := d.s.cfg.Docs.(RemoteDocs); ok {
		if ok, quiet := d.s.warn.allow("gap"); ok { // one per late room after Redis hung
			d.s.log.Info("messages from other instances may have been lost; resynchronising live documents from the log", "suppressed", quiet)
		}
		rd.Resync("")
	}
}

// remoteUpdate hands another instance's document update to the local copy,
// decoding it only if the document is live here.
func (s *Server) remoteUpdate(m Message) {
	rd, ok := s.cfg.Docs.(RemoteDocs)
	docID, isDoc := strings.CutPrefix(m.Room, "doc_")
	if !ok || !isDoc || m.Event != evDocUpdate || m.Origin.Instance == s.cfg.Instance || !rd.Live(docID) {
		return
	}
	var p struct {
		Update json.RawMessage `json:"update"`
	}
	if err := json.Unmarshal(m.Payload, &p); err != nil || len(p.Update) == 0 || p.Update[0] != '[' {
		s.log.Error("document update from another instance is malformed", "doc", docID, "instance", m.Origin.Instance)
		return
	}
	update, valid := byteArray(p.Update)
	if !valid {
		s.log.Error("document update from another instance is malformed", "doc", docID, "instance", m.Origin.Instance)
		return
	}
	rd.ApplyRemote(docID, update)
}

// subscribedDoc: this instance now receives room's updates; if it is a
// document's and other instances may have written it since it was loaded
// here, the document reads its log once more.
func (s *Server) subscribedDoc(room string) {
	ci, cross := s.broker.(CrossInstance)
	rd, ok := s.cfg.Docs.(RemoteDocs)
	if docID, isDoc := strings.CutPrefix(room, "doc_"); isDoc && ok && cross && ci.CrossInstance() {
		rd.Resync(docID)
	}
}

// RelayLocal sends a document update to this instance's sockets in its
// room only (ydoc.Config.RelayLocal: what a resynchronisation found).
func (s *Server) RelayLocal(docID string, update []byte) {
	p := newObject(len(update)*4+len(docID)).
		str("document_id", docID).
		str("user_id", "").
		ints("update", update).
		str("socket_id", "").
		done()
	s.toRoomDirect(docRoom(docID), "", evDocUpdate, p)
}
