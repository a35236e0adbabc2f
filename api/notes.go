package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/quire/quire/auth"
	"github.com/quire/quire/internal/runecut"
	"github.com/quire/quire/prosemirror"
	"github.com/quire/quire/storage"
	"github.com/quire/quire/wire"
)

// Note limits.
const (
	MaxTitleRunes = 1000
	MaxGrants     = 1000
	// PageSize is the page of GET /api/v1/notes/?page=N (Open WebUI's).
	PageSize = 60
	// MaxListLimit caps ?limit=.
	MaxListLimit = 1000
	// listMDRunes is how much of data.content.md a listing shows.
	listMDRunes = 1000
)

// noteModel is Open WebUI's NoteModel, plus write_access and is_pinned on
// a single note and the owner in listings.
type noteModel struct {
	wire.Note
	WriteAccess *bool      `json:"write_access,omitempty"`
	IsPinned    *bool      `json:"is_pinned,omitempty"`
	User        *noteOwner `json:"user,omitempty"`
}

// singleNote is n as one reader sees it (GET /{id} and every answer that
// returns the note): with write_access and is_pinned (Quire has no pins
// yet: always false), and data.content always an object, since the
// frontend's editor reads data.content.json without a guard.
func singleNote(u *storage.User, n *storage.Note) noteModel {
	m := newNoteModel(n)
	m.Data = withContent(m.Data)
	wa, pinned := auth.CanAccessNote(u, n, storage.PermWrite), false
	m.WriteAccess, m.IsPinned = &wa, &pinned
	return m
}

// withContent returns data with a content object: as stored when it has
// one, else with {"json": null, "html": "", "md": ""} (what the frontend
// creates a note with) in its place.
func withContent(data json.RawMessage) json.RawMessage {
	var fields map[string]json.RawMessage
	if json.Unmarshal(data, &fields) == nil && fields != nil {
		if c := bytes.TrimSpace(fields["content"]); len(c) > 0 && c[0] == '{' {
			return data
		}
	} else {
		fields = map[string]json.RawMessage{} // not an object: shown as one
	}
	fields["content"] = json.RawMessage(`{"json":null,"html":"","md":""}`)
	out, err := json.Marshal(fields)
	if err != nil {
		return data
	}
	return out
}

type noteOwner struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email,omitempty"`
}

func newNoteModel(n *storage.Note) noteModel { return noteModel{Note: wire.NoteOf(n)} }

// noteForm is the body of create and update; nil fields are absent.
type noteForm struct {
	Title        *string      `json:"title"`
	Data         object       `json:"data"`
	Meta         object       `json:"meta"`
	AccessGrants *[]grantForm `json:"access_grants"`
}

type grantForm struct {
	PrincipalType string `json:"principal_type"`
	PrincipalID   string `json:"principal_id"`
	Permission    string `json:"permission"`
}

// object is a JSON object field; absent and null are both nil.
type object map[string]any

func (o *object) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		*o = nil
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // keep numbers exactly as sent
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return &json.UnmarshalTypeError{Value: "value", Type: mapType}
	}
	if m == nil {
		m = map[string]any{}
	}
	*o = m
	return nil
}

var mapType = reflect.TypeFor[map[string]any]()

func marshalObject(m map[string]any) (json.RawMessage, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	return bytes.TrimSpace(buf.Bytes()), nil
}

func decodeObject(raw json.RawMessage) (map[string]any, error) {
	m := map[string]any{}
	if len(raw) == 0 {
		return m, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}

// cleanValue reports whether every string (keys too) and number in v is
// storable in both databases and readable by any JSON client.
func cleanValue(v any) bool {
	switch v := v.(type) {
	case string:
		return cleanText(v)
	case json.Number:
		return cleanNumber(v)
	case map[string]any:
		for k, e := range v {
			if !cleanText(k) || !cleanValue(e) {
				return false
			}
		}
	case []any:
		for _, e := range v {
			if !cleanValue(e) {
				return false
			}
		}
	}
	return true
}

// checkContent validates data.content, if present: an object whose md and
// html are strings and whose json is a ProseMirror document (or null). It
// returns the parsed document, if any.
func checkContent(data map[string]any) (*prosemirror.Node, error) {
	c, ok := data["content"]
	if !ok || c == nil {
		return nil, nil
	}
	content, ok := c.(map[string]any)
	if !ok {
		return nil, errors.New("data.content must be an object")
	}
	for _, k := range []string{"md", "html"} {
		if v, ok := content[k]; ok && v != nil {
			if _, ok := v.(string); !ok {
				return nil, fmt.Errorf("data.content.%s must be a string", k)
			}
		}
	}
	j, ok := content["json"]
	if !ok || j == nil {
		return nil, nil
	}
	if _, ok := j.(map[string]any); !ok {
		return nil, errors.New("data.content.json must be a ProseMirror document")
	}
	raw, err := json.Marshal(j)
	if err != nil {
		return nil, errors.New("data.content.json must be a ProseMirror document")
	}
	doc, err := prosemirror.Parse(raw)
	if err != nil {
		return nil, errors.New("data.content.json is not a valid ProseMirror document: " + parseReason(err))
	}
	return doc, nil
}

// maxReasonBytes bounds Parse's reason in a 400: it may quote a value
// from the request (a node type, an attribute), which can be long.
const maxReasonBytes = 120

// parseReason is why Parse refused a document, without its package
// prefix, cut to maxReasonBytes on a character boundary.
func parseReason(err error) string {
	reason := strings.TrimPrefix(err.Error(), prosemirror.ErrInvalid.Error()+": ")
	if len(reason) <= maxReasonBytes {
		return reason
	}
	return runecut.Cut(reason, maxReasonBytes) + "…"
}

// maxInlineCost bounds prosemirror.InlineCost of content that becomes a
// live document (now for a REST edit, when first opened for a new note):
// writing that much takes about 0.25 s on a 2-core VM, under the
// process-wide lock of server-side edits. (50M, the first bound, refused
// a paragraph of ~2,400 short bold pieces: 60 ms of work.)
const maxInlineCost = 200_000_000

// errTooMuchFormatting refuses content over maxInlineCost (413).
var errTooMuchFormatting = errors.New("data.content has too many differently formatted pieces of text in one paragraph")

// errTableTooLarge refuses content whose tables span more than
// prosemirror.MaxTableCells cells (413): every cell is several nodes of
// the live document, and the stock editor fills each table to a grid.
var errTableTooLarge = fmt.Errorf("data.content has tables of more than %d cells in all", prosemirror.MaxTableCells)

// liveTree is the document content becomes when it goes live (seeding,
// a REST edit): its ProseMirror JSON doc if sent, else its Markdown
// converted; nil when it has neither (html alone). It is
// errTableTooLarge or errTooMuchFormatting when writing it would cost too
// much.
func liveTree(doc *prosemirror.Node, data map[string]any) (*prosemirror.Node, error) {
	if doc == nil {
		c, _ := data["content"].(map[string]any) // shape checked by checkContent
		md, ok := c["md"].(string)
		if !ok {
			return nil, nil
		}
		var err error
		if doc, err = prosemirror.ParseMarkdown(md); err != nil {
			return nil, errTableTooLarge
		}
	}
	if prosemirror.TableCells(doc) > prosemirror.MaxTableCells {
		return nil, errTableTooLarge
	}
	if prosemirror.InlineCost(doc) > maxInlineCost {
		return nil, errTooMuchFormatting
	}
	return doc, nil
}

// cleanNumber: a number must be a finite double that did not underflow to
// zero (JavaScript clients read it as one; PostgreSQL refuses huge exponents).
func cleanNumber(n json.Number) bool {
	s := string(n)
	if len(s) > 64 {
		return false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return false
	}
	mantissa, _, _ := strings.Cut(strings.ToLower(s), "e")
	return f != 0 || !strings.ContainsAny(mantissa, "123456789")
}

func checkTitle(t string) error {
	if utf8.RuneCountInString(t) > MaxTitleRunes || !cleanText(t) {
		return fmt.Errorf("title must be at most %d characters of text", MaxTitleRunes)
	}
	return nil
}

// checkGrants validates grants (user principals that exist, read or write)
// and drops exact duplicates.
// grantsOrAnswer checks the grants sent; on a refusal it answers the
// request (400/404 as checkGrants says, 500 on a storage fault) and
// reports false.
func (a *API) grantsOrAnswer(w http.ResponseWriter, r *http.Request, in []grantForm) ([]storage.AccessGrant, bool) {
	grants, status, err := a.checkGrants(r, in)
	if status == http.StatusInternalServerError {
		a.internalError(w, r, "check grants", err)
		return nil, false
	} else if err != nil {
		writeError(w, status, err.Error())
		return nil, false
	}
	return grants, true
}

func (a *API) checkGrants(r *http.Request, in []grantForm) ([]storage.AccessGrant, int, error) {
	if len(in) > MaxGrants {
		return nil, http.StatusBadRequest, fmt.Errorf("at most %d access grants", MaxGrants)
	}
	out := make([]storage.AccessGrant, 0, len(in))
	for i, g := range in {
		if g.PrincipalType != "user" {
			return nil, http.StatusBadRequest, fmt.Errorf(`access_grants[%d].principal_type must be "user"`, i)
		}
		if g.Permission != storage.PermRead && g.Permission != storage.PermWrite {
			return nil, http.StatusBadRequest, fmt.Errorf(`access_grants[%d].permission must be "read" or "write"`, i)
		}
		unknown := fmt.Errorf("access_grants[%d].principal_id is not a known user", i)
		if !validID(g.PrincipalID) {
			return nil, http.StatusBadRequest, unknown
		}
		grant := storage.AccessGrant{PrincipalType: g.PrincipalType, PrincipalID: g.PrincipalID, Permission: g.Permission}
		if slices.Contains(out, grant) {
			continue
		}
		if _, err := a.cfg.Store.GetUser(r.Context(), g.PrincipalID); errors.Is(err, storage.ErrNotFound) {
			return nil, http.StatusBadRequest, unknown
		} else if err != nil {
			return nil, http.StatusInternalServerError, err
		}
		out = append(out, grant)
	}
	return out, 0, nil
}

func (a *API) createNote(w http.ResponseWriter, r *http.Request, s *session) {
	var f noteForm
	if !readJSON(w, r, a.cfg.MaxNoteBodyBytes, &f) {
		return
	}
	if f.Title == nil {
		writeError(w, http.StatusBadRequest, "title is required")
		return
	}
	if err := checkTitle(*f.Title); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	data, meta := map[string]any(f.Data), map[string]any(f.Meta)
	if data == nil {
		data = map[string]any{}
	}
	if meta == nil {
		meta = map[string]any{}
	}
	if !cleanValue(data) || !cleanValue(meta) {
		writeError(w, http.StatusBadRequest, msgBadValue)
		return
	}
	doc, err := checkContent(data)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if _, err := liveTree(doc, data); err != nil { // the note's seed
		writeError(w, http.StatusRequestEntityTooLarge, err.Error())
		return
	}
	var grants []storage.AccessGrant
	if f.AccessGrants != nil {
		var ok bool
		if grants, ok = a.grantsOrAnswer(w, r, *f.AccessGrants); !ok {
			return
		}
	}
	rawData, err := marshalObject(data)
	if err != nil {
		a.internalError(w, r, "encode data", err)
		return
	}
	rawMeta, err := marshalObject(meta)
	if err != nil {
		a.internalError(w, r, "encode meta", err)
		return
	}
	now := a.cfg.Now().UnixNano()
	n := &storage.Note{ID: uuid.NewString(), UserID: s.user.ID, Title: *f.Title, Data: rawData, Meta: rawMeta,
		AccessGrants: grants, CreatedAt: now, UpdatedAt: now}
	if err := a.cfg.Store.CreateNote(r.Context(), n); err != nil {
		a.internalError(w, r, "create note", err)
		return
	}
	a.writeNote(w, r, n.ID, s.user)
}

// writeNote answers with the stored note as the caller sees it.
func (a *API) writeNote(w http.ResponseWriter, r *http.Request, id string, u *storage.User) {
	n, err := a.cfg.Store.GetNote(r.Context(), id)
	if err != nil {
		a.internalError(w, r, "get note", err)
		return
	}
	writeJSON(w, http.StatusOK, singleNote(u, n))
}

// loadNote returns the note if u may read it; otherwise it answers 404
// (unknown and unreadable look the same) and returns nil.
func (a *API) loadNote(w http.ResponseWriter, r *http.Request, u *storage.User) *storage.Note {
	id, ok := pathID(w, r, "id")
	if !ok {
		return nil
	}
	n, err := a.cfg.Store.GetNote(r.Context(), id)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && !auth.CanAccessNote(u, n, storage.PermRead)) {
		writeError(w, http.StatusNotFound, msgNotFound)
		return nil
	}
	if err != nil {
		a.internalError(w, r, "get note", err)
		return nil
	}
	return n
}

// loadWritableNote is loadNote, then 403 without write access.
func (a *API) loadWritableNote(w http.ResponseWriter, r *http.Request, u *storage.User) *storage.Note {
	n := a.loadNote(w, r, u)
	if n != nil && !auth.CanAccessNote(u, n, storage.PermWrite) {
		writeError(w, http.StatusForbidden, msgForbidden)
		return nil
	}
	return n
}

func (a *API) getNote(w http.ResponseWriter, r *http.Request, s *session) {
	n := a.loadNote(w, r, s.user)
	if n == nil {
		return
	}
	writeJSON(w, http.StatusOK, singleNote(s.user, n))
}

// listNotes pages the notes the caller may read (admins: all), newest
// first. ?page=N (from 1) takes pages of PageSize; otherwise ?skip= and
// ?limit= (no limit: everything; an empty value is a 400, as on every list).
func (a *API) listNotes(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	opt := storage.ListNotesOptions{UserID: s.user.ID, All: s.user.Role == storage.RoleAdmin, MDPrefix: listMDRunes}
	num := func(name string, min, max int) (int, bool) {
		n, err := intParam(q, name, 0, min, max)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return 0, false
		}
		return n, true
	}
	if q.Has("page") {
		page, ok := pageParam(w, q)
		if !ok {
			return
		}
		opt.Skip, opt.Limit = (page-1)*PageSize, PageSize
	} else {
		var ok bool
		if opt.Skip, ok = num("skip", 0, 1_000_000_000); !ok {
			return
		}
		if opt.Limit, ok = num("limit", 1, MaxListLimit); !ok {
			return
		}
	}
	notes, err := a.cfg.Store.ListNotes(r.Context(), opt)
	if err != nil {
		a.internalError(w, r, "list notes", err)
		return
	}
	out, err := a.listItems(r.Context(), notes)
	if err != nil {
		a.internalError(w, r, "get note owner", err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// listItems is notes as a listing shows them: data cut to the start of
// its Markdown, and the owner's id, name and email.
func (a *API) listItems(ctx context.Context, notes []storage.Note) ([]noteModel, error) {
	owners := map[string]*noteOwner{}
	out := make([]noteModel, 0, len(notes))
	for i := range notes {
		n := &notes[i]
		m := newNoteModel(n)
		m.Data = listData(n.Data)
		owner, ok := owners[n.UserID]
		if !ok {
			if u, err := a.cfg.Store.GetUser(ctx, n.UserID); err == nil {
				owner = &noteOwner{ID: u.ID, Name: u.Name, Email: u.Email}
			} else if !errors.Is(err, storage.ErrNotFound) {
				return nil, err
			}
			owners[n.UserID] = owner
		}
		m.User = owner
		out = append(out, m)
	}
	return out, nil
}

// listData is what a listing shows of data: {"content": {"md": md[:1000]}}
// (Open WebUI cuts code points, so do we).
func listData(raw json.RawMessage) json.RawMessage {
	var d struct {
		Content struct {
			MD string `json:"md"`
		} `json:"content"`
	}
	_ = json.Unmarshal(raw, &d) // a foreign shape lists as empty markdown
	md := d.Content.MD
	if utf8.RuneCountInString(md) > listMDRunes {
		md = string([]rune(md)[:listMDRunes])
	}
	out, _ := marshalObject(map[string]any{"content": map[string]any{"md": md}})
	return out
}
