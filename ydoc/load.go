package ydoc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/quire/quire/prosemirror"
	"github.com/quire/quire/storage"
	"github.com/quire/quire/yupdate"
)

// maxPoisonRows bounds how many stored rows a load skips because they
// crash the library before it gives up on the document.
const maxPoisonRows = 8

// load reads the document's log (seeding it from the note when the log is
// empty) and builds the Doc.
func (d *document) load() error {
	ctx, cancel := d.ctx()
	defer cancel()
	st, err := d.m.cfg.Store.LoadDocument(ctx, d.id)
	if err != nil {
		d.m.log.Error("load document", "doc", d.id, "err", err)
		return ErrUnavailable
	}
	if st.Empty() {
		rec, fromMD, err := d.seed()
		if err != nil {
			return err
		}
		if rec != nil {
			st.Records = []storage.DocRecord{*rec}
		}
		if err := d.build(st.Records); err != nil {
			return err
		}
		if fromMD {
			d.changed() // render over the json seeding could not read
		}
		return nil
	}
	if err := d.build(st.Records); err != nil {
		return err
	}
	// A crash (kill -9) between an update's commit and its debounced
	// render loses the render: the note's data.content would lag the
	// document (or hold a REST edit's body without its md and html) until
	// the next edit. So a load renders an edited document; a rendering
	// equal to the stored one is not written (Store.SetNoteContents). A
	// document that is only its seed is rendered only if its note says
	// something else, so that opening a note created with Markdown alone
	// does not rewrite it and move its updated_at.
	if d.edited() || d.contentStale() {
		d.changed()
	}
	return nil
}

// edited reports whether anyone but the seeder wrote to the Doc.
func (d *document) edited() bool {
	for client := range d.sv {
		if client != SeedClientID {
			return true
		}
	}
	return false
}

// contentStale reports whether what seeding would build from the note's
// stored content (its json, else its md) differs from the Doc.
func (d *document) contentStale() bool {
	ctx, cancel := d.ctx()
	defer cancel()
	note, err := d.m.cfg.Store.GetNote(ctx, d.noteID)
	if err != nil {
		return false // gone, or unreadable now: the next edit renders
	}
	stored, badJSON, err := noteContent(note.Data)
	if err != nil || badJSON != nil {
		return true // a render replaces what seeding could not read
	}
	var live *prosemirror.Node
	if protect(func() error { live = readProseMirror(d.doc); return nil }) != nil {
		return false // rendering would fail the same way
	}
	if stored == nil {
		return len(live.Content) > 0
	}
	dropNullAttrs(stored)
	a, errA := json.Marshal(stored)
	b, errB := json.Marshal(live)
	return errA != nil || errB != nil || !bytes.Equal(a, b)
}

// dropNullAttrs removes the null attrs of n and its descendants, in
// place. Seeding writes no null attribute into the Doc (nor does
// y-prosemirror), so a tree read from it has none, and a stored one with
// them (a table cell's colwidth, a code block's language) is the same.
func dropNullAttrs(n *prosemirror.Node) {
	for k, v := range n.Attrs {
		if v == nil {
			delete(n.Attrs, k)
		}
	}
	for _, c := range n.Content {
		dropNullAttrs(c)
	}
}

// seed builds the first state of a note's document from its stored
// content (protocol §9.3) and appends it to the log, so it happens once.
// The bytes depend only on the content, so two servers seeding at once
// store identical, mergeable updates. Seeding never broadcasts. fromMD
// reports a seed from the md because the json was refused.
func (d *document) seed() (rec *storage.DocRecord, fromMD bool, err error) {
	ctx, cancel := d.ctx()
	defer cancel()
	note, err := d.m.cfg.Store.GetNote(ctx, d.noteID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, false, ErrUnknownDocument
	}
	if err != nil {
		d.m.log.Error("read note to seed", "doc", d.id, "err", err)
		return nil, false, ErrUnavailable
	}
	pm, badJSON, err := noteContent(note.Data)
	if err != nil {
		d.m.log.Warn("note content unusable for seeding; starting empty", "doc", d.id, "err", err)
		return nil, false, nil
	}
	if badJSON != nil {
		d.m.log.Warn("note's content.json unusable for seeding; seeding from its content.md", "doc", d.id, "err", badJSON)
	}
	if pm == nil || len(pm.Content) == 0 {
		return nil, false, nil
	}
	var upd []byte
	editMu.Lock()
	err = protect(func() error {
		var err error
		upd, err = seedUpdate(pm)
		return err
	})
	editMu.Unlock()
	if err != nil {
		d.m.log.Warn("seed document; starting empty", "doc", d.id, "err", err)
		return nil, false, nil
	}
	ids, err := d.m.cfg.Store.AppendUpdates(ctx, []storage.DocUpdate{{DocID: d.id, Data: upd}})
	if err != nil || len(ids) != 1 {
		d.m.log.Error("store seed", "doc", d.id, "err", err)
		return nil, false, ErrUnavailable
	}
	d.m.met.bytesPersisted.Add(float64(len(upd)))
	d.m.log.Info("seeded document from note content", "doc", d.id, "bytes", len(upd))
	return &storage.DocRecord{ID: ids[0], Data: upd}, badJSON != nil, nil
}

// noteContent is the ProseMirror tree of a note's data.content: its json
// if it is an object, else its md. nil when the note has neither. A json
// this version does not accept (an older one may have stored it) falls
// back to the md, reported as badJSON: the Markdown rendering still holds
// the text, and a document seeded empty would let the first edit's render
// overwrite the note.
func noteContent(data json.RawMessage) (pm *prosemirror.Node, badJSON, err error) {
	var v struct {
		Content struct {
			JSON json.RawMessage `json:"json"`
			MD   any             `json:"md"`
		} `json:"content"`
	}
	if len(data) > 0 {
		if err := json.Unmarshal(data, &v); err != nil {
			return nil, nil, err
		}
	}
	md, _ := v.Content.MD.(string)
	if js := bytes.TrimSpace(v.Content.JSON); len(js) > 0 && js[0] == '{' {
		pm, err := prosemirror.Parse(js)
		if err == nil {
			return pm, nil, nil
		}
		if md == "" {
			return nil, nil, err
		}
		badJSON = err
	}
	if md != "" {
		return prosemirror.FromMarkdown(md), badJSON, nil
	}
	return nil, nil, nil
}

// build replaces the Doc with one made from stored rows. Rows whose
// dependencies are missing are held; a row that crashes the library is
// skipped (and logged) and the build starts over without it.
func (d *document) build(recs []storage.DocRecord) error {
	skip := map[int]bool{}
	for {
		bad := d.replay(recs, skip)
		if bad < 0 {
			return nil
		}
		if len(skip) == maxPoisonRows {
			d.m.log.Error("document log keeps crashing the library; giving up", "doc", d.id)
			return ErrUnavailable
		}
		d.m.log.Error("stored update crashes the library; skipping it", "doc", d.id, "row", recs[bad].ID)
		skip[bad] = true
	}
}

// replay resets the Doc and applies recs; it returns the index of a row
// that panicked, or -1.
func (d *document) replay(recs []storage.DocRecord, skip map[int]bool) int {
	d.m.met.heldUpdates.Sub(float64(len(d.held)))
	d.doc = newDoc(0)
	d.sv = make(map[uint64]uint64)
	d.dropState()
	d.applied, d.held, d.size = nil, nil, 0
	for i, rec := range recs {
		d.size += len(rec.Data)
		if skip[i] {
			continue
		}
		u, err := yupdate.Parse(rec.Data, yupdate.Limits{MaxBytes: max(d.m.cfg.MaxDocumentBytes, len(rec.Data))})
		if err != nil {
			// Never applicable; compaction drops it.
			d.m.log.Error("stored update is invalid; ignoring it", "doc", d.id, "row", rec.ID, "err", err)
			d.applied = append(d.applied, rec.ID)
			continue
		}
		switch {
		case d.contains(u):
			d.applied = append(d.applied, rec.ID)
		case u.Missing(d.sv):
			d.hold(&row{id: rec.ID, data: rec.Data, upd: u})
		default:
			if err := d.applyRaw(rec.Data, u); err != nil {
				return i
			}
			d.applied = append(d.applied, rec.ID)
			if len(d.held) > 0 && d.release(false) != nil {
				return i // a held row crashed; skipping the newest row is the best guess
			}
		}
	}
	return -1
}

// applyRaw applies a validated update with present dependencies and keeps
// the state vector in step. A panic is returned as an error; the caller
// must then discard the Doc.
func (d *document) applyRaw(data []byte, u *yupdate.Update) error {
	err := protect(func() error {
		if d.m.hookApply != nil {
			d.m.hookApply(data)
		}
		applyUpdate(d.doc, data, nil)
		return nil
	})
	if err != nil {
		return err
	}
	for client, ranges := range u.Structs {
		if n := len(ranges); n > 0 {
			d.sv[client] = max(d.sv[client], ranges[n-1].End())
		}
	}
	d.dropState()
	return nil
}

// protect runs f and turns a panic into an error.
func protect(f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %v", errPanic, p)
		}
	}()
	return f()
}
