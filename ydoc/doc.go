// Package ydoc is Quire's document manager: the only package that imports
// the Yjs library (skyterra/y-crdt).
//
// Every live document has one owner goroutine; it alone touches the
// document's *y.Doc, running commands from a bounded inbox in order. Updates
// from clients are validated (yupdate) before the library sees them,
// dependency-checked against the document's state vector (updates whose
// dependencies are missing are stored but held back, because the library
// loses out-of-order deletes), applied, and persisted through one
// group-commit writer shared by all documents: each Apply returns once its
// row is durable, and the owner relays updates in apply order only then.
//
// The owner also seeds a note's document from its stored content the first
// time, renders the merged document back into the note's data.content
// (debounced), compacts the document log in the background, and unloads the
// document when it has been idle.
package ydoc
