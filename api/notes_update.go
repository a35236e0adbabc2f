package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"

	"github.com/quire/quire/auth"
	"github.com/quire/quire/prosemirror"
	"github.com/quire/quire/storage"
	"github.com/quire/quire/ydoc"
)

// msgNoShare answers a grant change by someone who may not share.
const msgNoShare = "Only the owner or an admin may change who can access a note"

// msgNoDelete answers a delete by someone who is neither owner nor admin.
const msgNoDelete = "Only the owner or an admin may delete a note"

// refusal is an answer decided inside the UpdateNote callback.
type refusal struct {
	status int
	msg    string
}

func (e *refusal) Error() string { return e.msg }

// updateRefusal checks u may update n (as locked in the transaction) and,
// if setGrants, set its grants to grants. Pure: the callback that calls it
// must not use the store.
func updateRefusal(u *storage.User, n *storage.Note, grants []storage.AccessGrant, setGrants bool) *refusal {
	switch {
	case !auth.CanAccessNote(u, n, storage.PermRead):
		return &refusal{http.StatusNotFound, msgNotFound}
	case !auth.CanAccessNote(u, n, storage.PermWrite):
		return &refusal{http.StatusForbidden, msgForbidden}
	case setGrants && !canShare(u, n) && !sameGrants(grants, n.AccessGrants):
		return &refusal{http.StatusForbidden, msgNoShare}
	}
	return nil
}

// updateNote applies {title?, data?, meta?, access_grants?} with write
// access. data and meta are shallow-merged into the stored ones (Open
// WebUI). Changing access_grants needs the owner or an admin, unless the
// grants sent equal the stored ones (clients echo the whole note back).
// A changed data.content goes to the live document first, so a content
// edit the document refuses changes nothing; any other data.content sent
// is dropped, as the stored one is the document's rendering. Access is checked early (the
// live edit relies on it) and again on the locked row, where the fields
// and grants are written in one transaction: a revocation committed in
// between refuses the fields, though a live edit made before it stands
// (docs/invariants.md, 16).
func (a *API) updateNote(w http.ResponseWriter, r *http.Request, s *session) {
	n := a.loadWritableNote(w, r, s.user)
	if n == nil {
		return
	}
	var f noteForm
	if !readJSON(w, r, a.cfg.MaxNoteBodyBytes, &f) {
		return
	}
	if f.Title != nil {
		if err := checkTitle(*f.Title); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	if !cleanValue(map[string]any(f.Data)) || !cleanValue(map[string]any(f.Meta)) {
		writeError(w, http.StatusBadRequest, msgBadValue)
		return
	}
	var newDoc *prosemirror.Node
	if f.Data != nil {
		var err error
		if newDoc, err = checkContent(f.Data); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	var grants []storage.AccessGrant
	if f.AccessGrants != nil {
		var ok bool
		if grants, ok = a.grantsOrAnswer(w, r, *f.AccessGrants); !ok {
			return
		}
		if !canShare(s.user, n) && !sameGrants(grants, n.AccessGrants) {
			writeError(w, http.StatusForbidden, msgNoShare)
			return
		}
	}

	changed := f.Data != nil && contentChanged(n, f.Data)
	if _, sent := f.Data["content"]; sent && !changed && a.cfg.Live != nil {
		// The stored content is the document's rendering (§9.3): a copy
		// that is no edit of the document (the stored one sent back), or
		// cannot be one (null, html alone), must not replace it.
		delete(f.Data, "content")
	}
	if changed && a.cfg.Live != nil {
		if err := a.replaceContent(r.Context(), n.ID, newDoc, f.Data); err != nil {
			a.liveError(w, r, err)
			return
		}
	}
	updated, err := a.cfg.Store.UpdateNote(r.Context(), n.ID, func(cur *storage.Note) error {
		if ref := updateRefusal(s.user, cur, grants, f.AccessGrants != nil); ref != nil {
			return ref
		}
		if f.AccessGrants != nil && canShare(s.user, cur) {
			cur.AccessGrants = grants // replaced in this transaction if changed
		}
		if f.Title != nil {
			cur.Title = *f.Title
		}
		var err error
		if cur.Data, err = merge(cur.Data, f.Data); err != nil {
			return err
		}
		if cur.Meta, err = merge(cur.Meta, f.Meta); err != nil {
			return err
		}
		cur.UpdatedAt = max(a.cfg.Now().UnixNano(), cur.UpdatedAt+1)
		return nil
	})
	var ref *refusal
	if errors.As(err, &ref) {
		writeError(w, ref.status, ref.msg)
		return
	} else if errors.Is(err, storage.ErrNotFound) {
		writeError(w, http.StatusNotFound, msgNotFound)
		return
	} else if err != nil {
		a.internalError(w, r, "update note", err)
		return
	}
	if a.cfg.NoteEvents != nil {
		a.cfg.NoteEvents(eventNote(updated, changed))
	}
	a.writeNote(w, r, n.ID, s.user)
}

// replaceContent hands the new content to the live document: the
// ProseMirror JSON if sent, else the Markdown converted. (Content with
// neither, html alone, is no edit: contentChanged.)
func (a *API) replaceContent(ctx context.Context, noteID string, doc *prosemirror.Node, patch map[string]any) error {
	doc, err := liveTree(doc, patch)
	if err != nil || doc == nil {
		return err
	}
	return a.cfg.Live.ReplaceContent(ctx, "note:"+noteID, doc)
}

// eventNote is n as events:note carries it: without data.content unless
// this request changed the content, because the frontend replaces its
// whole editor (the shared document) with any content an event carries.
func eventNote(n *storage.Note, contentChanged bool) *storage.Note {
	if contentChanged {
		return n
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(n.Data, &fields) != nil {
		return n
	}
	if _, ok := fields["content"]; !ok {
		return n
	}
	delete(fields, "content")
	data, err := json.Marshal(fields)
	if err != nil {
		return n
	}
	out := *n
	out.Data = data
	return &out
}

func canShare(u *storage.User, n *storage.Note) bool {
	return u.Role == storage.RoleAdmin || u.ID == n.UserID
}

func sameGrants(a, b []storage.AccessGrant) bool {
	if len(a) != len(b) {
		return false
	}
	for _, g := range a {
		if !slices.Contains(b, g) {
			return false
		}
	}
	return true
}

// contentChanged reports whether patch sets the document to something
// new: its ProseMirror JSON if sent (compared with the stored JSON), else
// its Markdown (compared with the stored Markdown). Re-sending what is
// stored, as clients that echo the whole note do, is no edit.
func contentChanged(n *storage.Note, patch map[string]any) bool {
	next, _ := patch["content"].(map[string]any) // shape checked by checkContent
	if next == nil {
		return false
	}
	cur := map[string]any{}
	if stored, err := decodeObject(n.Data); err == nil {
		cur, _ = stored["content"].(map[string]any)
	}
	if j, ok := next["json"]; ok && j != nil {
		a, errA := marshalObject(map[string]any{"j": cur["json"]})
		b, errB := marshalObject(map[string]any{"j": j})
		return errA != nil || errB != nil || !bytes.Equal(a, b)
	}
	md, ok := next["md"].(string)
	if !ok {
		return false
	}
	old, _ := cur["md"].(string)
	return md != old
}

// merge shallow-merges patch into the stored object raw.
func merge(raw []byte, patch map[string]any) ([]byte, error) {
	if patch == nil {
		return raw, nil
	}
	m, err := decodeObject(raw)
	if err != nil {
		m = map[string]any{} // a stored non-object is replaced, not kept
	}
	for k, v := range patch {
		m[k] = v
	}
	return marshalObject(m)
}

// deleteNote removes a note and its history: for the owner and admins only.
// A write grant lets a user edit the note, not destroy it.
func (a *API) deleteNote(w http.ResponseWriter, r *http.Request, s *session) {
	n := a.loadNote(w, r, s.user)
	if n == nil {
		return
	}
	if !canShare(s.user, n) {
		writeError(w, http.StatusForbidden, msgNoDelete)
		return
	}
	if err := a.cfg.Store.DeleteNote(r.Context(), n.ID); errors.Is(err, storage.ErrNotFound) {
		writeError(w, http.StatusNotFound, msgNotFound)
		return
	} else if err != nil {
		a.internalError(w, r, "delete note", err)
		return
	}
	// The note is gone: its live document and sockets go with it. Neither
	// failure can bring the note back, so they are logged, not answered.
	if f, ok := a.cfg.Live.(documentForgetter); ok {
		if err := f.Forget(r.Context(), "note:"+n.ID); err != nil {
			a.log.WarnContext(r.Context(), "forget deleted note's document", "note", n.ID, "err", err)
		}
	}
	if a.cfg.NoteDeleted != nil {
		a.cfg.NoteDeleted(n.ID)
	}
	writeJSON(w, http.StatusOK, true)
}

type accessForm struct {
	AccessGrants *[]grantForm `json:"access_grants"`
}

// updateAccess replaces a note's grants (owner or admin).
func (a *API) updateAccess(w http.ResponseWriter, r *http.Request, s *session) {
	n := a.loadNote(w, r, s.user)
	if n == nil {
		return
	}
	if !canShare(s.user, n) {
		writeError(w, http.StatusForbidden, msgNoShare)
		return
	}
	var f accessForm
	if !readJSON(w, r, a.cfg.MaxNoteBodyBytes, &f) {
		return
	}
	if f.AccessGrants == nil {
		writeError(w, http.StatusBadRequest, "access_grants is required")
		return
	}
	grants, ok := a.grantsOrAnswer(w, r, *f.AccessGrants)
	if !ok {
		return
	}
	if err := a.cfg.Store.SetNoteAccess(r.Context(), n.ID, grants); errors.Is(err, storage.ErrNotFound) {
		writeError(w, http.StatusNotFound, msgNotFound)
		return
	} else if err != nil {
		a.internalError(w, r, "set note access", err)
		return
	}
	if a.cfg.NoteEvents != nil {
		// Sockets that lost read access leave the note's rooms there.
		n.AccessGrants = grants
		a.cfg.NoteEvents(eventNote(n, false))
	}
	a.writeNote(w, r, n.ID, s.user)
}

// liveError answers a live edit the document manager refused; nothing was
// stored.
func (a *API) liveError(w http.ResponseWriter, r *http.Request, err error) {
	a.log.WarnContext(r.Context(), "live document refused a REST edit", "err", err)
	switch {
	case errors.Is(err, errTooMuchFormatting), errors.Is(err, errTableTooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, err.Error())
	case errors.Is(err, ydoc.ErrTooCostly):
		writeError(w, http.StatusRequestEntityTooLarge, "The note's text is too finely formatted for this edit over REST; edit it in the editor")
	case errors.Is(err, ydoc.ErrTooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, "The note would grow past the document size limit")
	case errors.Is(err, ydoc.ErrInvalidUpdate):
		writeError(w, http.StatusBadRequest, "The content cannot be applied to the note")
	case errors.Is(err, ydoc.ErrUnknownDocument):
		writeError(w, http.StatusNotFound, msgNotFound)
	default: // ErrBusy, ErrUnavailable, ErrClosed, a cancelled request
		writeError(w, http.StatusServiceUnavailable, "The note is busy; try again")
	}
}
