// Package prosemirror holds ProseMirror documents as plain Go trees in
// ProseMirror's JSON shape, using the node and mark names of Tiptap's
// StarterKit (Open WebUI's editor). It parses and validates that JSON,
// converts Markdown to it (goldmark), and renders it as Markdown, HTML and
// plain text, the three forms Open WebUI keeps in a note's data.content.
// It knows nothing about Yjs.
package prosemirror
