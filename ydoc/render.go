package ydoc

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/quire/quire/prosemirror"
	"github.com/quire/quire/storage"
)

// render takes the merged document (on the owner) and writes it into the
// note's data.content in the background; one render runs at a time per
// document, a change meanwhile re-arms the debounce.
func (d *document) render() {
	if !d.dirty || d.broken || d.forgotten {
		return
	}
	if d.rendering {
		d.renderTimer.Reset(d.m.cfg.RenderDebounce)
		return
	}
	var pm *prosemirror.Node
	if err := d.guard(func() { pm = readProseMirror(d.doc) }); err != nil {
		d.m.log.Error("read document for rendering", "doc", d.id, "err", err)
		return
	}
	d.dirty = false
	d.rendering = true
	d.m.goBackground(func() {
		err := d.m.writeContent(d.noteID, pm)
		d.bg <- func() {
			d.rendering = false
			switch {
			case errors.Is(err, storage.ErrNotFound):
				d.m.log.Debug("render: note is gone", "doc", d.id)
			case err != nil:
				d.m.log.Error("render document into note", "doc", d.id, "err", err)
			}
		}
	})
}

// writeContent stores pm as the note's data.content {md, html, json},
// keeping every other data key (Open WebUI's shallow merge).
func (m *Manager) writeContent(noteID string, pm *prosemirror.Node) error {
	content, err := json.Marshal(prosemirror.ContentOf(pm))
	if err != nil {
		return err
	}
	ctx, cancel := contextWithTimeout()
	defer cancel()
	_, err = m.cfg.Store.UpdateNote(ctx, noteID, func(n *storage.Note) error {
		data := map[string]json.RawMessage{}
		if len(n.Data) > 0 {
			if err := json.Unmarshal(n.Data, &data); err != nil {
				return err
			}
		}
		data["content"] = content
		b, err := json.Marshal(data)
		if err != nil {
			return err
		}
		n.Data = b
		n.UpdatedAt = time.Now().UnixNano()
		return nil
	})
	return err
}
