package ydoc

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"log/slog"
	"sync"

	y "github.com/skyterra/y-crdt"
)

// Workarounds for skyterra/y-crdt defects (docs: ../shared/DEPENDENCIES.md).

var installOnce sync.Once

// installXMLReader replaces the library's reader for type content
// (y.ContentRefs[7]). The stock reader builds Y.XmlElements with
// y.NewYXmlElement, which leaves the embedded fragment's event handlers nil,
// so ApplyUpdate panics in the observer phase of most edits inside an
// element. Ours builds every element around y.NewYXmlFragment(). It also
// routes y.Logf and y.Log (stdout by default) to slog at debug level. Safe to
// call any number of times; call it before the first Doc is used.
func installXMLReader() {
	installOnce.Do(func() {
		y.ContentRefs[y.RefContentType] = readContentType
		y.Logf = func(format string, a ...any) {
			slog.Debug("y-crdt", "msg", fmt.Sprintf(format, a...))
		}
		y.Log = func(a ...any) {
			slog.Debug("y-crdt", "msg", fmt.Sprint(a...))
		}
	})
}

// readContentType mirrors the library's ReadContentType with the element
// constructor fixed.
func readContentType(d *y.UpdateDecoderV1) (y.IAbstractContent, error) {
	ref, err := d.ReadTypeRef()
	if err != nil {
		return nil, err
	}
	var t y.IAbstractType
	switch ref {
	case y.YArrayRefID:
		t = y.NewYArray()
	case y.YMapRefID:
		t = y.NewYMap(nil)
	case y.YTextRefID:
		t = y.NewYText("")
	case y.YXmlElementRefID:
		name, err := d.ReadKey()
		if err != nil {
			return nil, err
		}
		t = newXMLElement(name)
	case y.YXmlFragmentRefID:
		t = y.NewYXmlFragment()
	case y.YXmlHookRefID:
		name, err := d.ReadKey()
		if err != nil {
			return nil, err
		}
		t = y.NewYXmlHook(name)
	case y.YXmlTextRefID:
		t = y.NewYXmlText()
	default:
		return nil, fmt.Errorf("ydoc: unknown type ref %d", ref)
	}
	unobserved(t)
	return y.NewContentType(t), nil
}

// noObservers is the event handler of every nested type: each type has two
// of its own (its observers and deep observers), about 40 KB of heap per
// loaded 200 KB note, and Quire observes only whole documents (the
// "update" event), never a type. The library adds listeners to a type's
// handlers only in Observe/ObserveDeep (and PermanentUserData, unused), so
// the shared one stays empty and every call on it is a no-op.
var noObservers = y.NewEventHandler()

// unobserved gives t the shared empty event handlers.
func unobserved(t y.IAbstractType) {
	var at *y.AbstractType
	switch v := t.(type) {
	case *y.YArray:
		at = &v.AbstractType
	case *y.YMap:
		at = &v.AbstractType
	case *y.YText:
		at = &v.AbstractType
	case *y.YXmlElement:
		at = &v.AbstractType
	case *y.YXmlFragment:
		at = &v.AbstractType
	case *y.YXmlHook:
		at = &v.AbstractType
	case *y.YXmlText:
		at = &v.AbstractType
	default:
		return
	}
	at.EH, at.DEH = noObservers, noObservers
}

// newXMLElement is y.NewYXmlElement with working event handlers. Use it for
// every element the server creates too.
func newXMLElement(name string) *y.YXmlElement {
	return &y.YXmlElement{
		YXmlFragment: *y.NewYXmlFragment(),
		NodeName:     name,
		PrelimAttrs:  make(map[string]any),
	}
}

// applyUpdate applies a peer's update to doc. Use it instead of
// y.ApplyUpdate: after every remote transaction the library runs an old port
// of yjs's formatting cleanup that deletes formatting items yjs 13.6 keeps,
// so the server's document silently diverges from every browser's (seen on
// a y-prosemirror edit log; yjs itself deletes nothing there) and it emits an
// extra server-made update. Applying inside our own transaction and marking
// it local skips that cleanup; the only other effect of "remote" is clearing
// the search markers (cached positions) of the changed types, done here.
// Peers that do run yjs's cleanup send their deletions as normal updates.
func applyUpdate(doc *y.Doc, update []byte, origin any) {
	doc.Transact(func(tr *y.Transaction) {
		y.ApplyUpdate(doc, update, origin)
		for t := range tr.Changed {
			if at, ok := t.(y.IAbstractType); ok {
				at.SetSearchMarker(nil)
			}
		}
		tr.Local = true
	}, origin)
}

// newDoc makes a Doc with gc on and the library's default gc filter (a nil
// filter panics on the first delete). clientID 0 means a random client id.
func newDoc(clientID uint64) *y.Doc {
	installXMLReader()
	doc := y.NewDoc(randomGUID(), true, y.DefaultGCFilter, nil, false)
	if clientID != 0 {
		doc.ClientID = y.Number(clientID)
	}
	return doc
}

// randomGUID names a Doc; the guid never goes on the wire for root docs.
func randomGUID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%016x", binary.BigEndian.Uint64(b[:]))
}
