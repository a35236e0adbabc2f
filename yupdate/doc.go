// Package yupdate is a strict, bounds-checked parser of Yjs v1 updates and state vectors.
//
// It exists because the Go Yjs library (skyterra/y-crdt) loops forever or dies of an
// unrecoverable out-of-memory on a few hostile bytes, and silently loses deletes that
// arrive before the inserts they refer to. Every client byte passes Parse first, and
// Update.Missing tells the caller to hold an update until its dependencies are present.
package yupdate
