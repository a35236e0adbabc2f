package ydoc

import "time"

// StateCacheTTLDefault: how long a document's encoded state stays cached
// after it was last served.
const StateCacheTTLDefault = time.Second

// The encoded state of a version is what a burst of joiners shares, but kept for
// the document's whole life it cost more than the y.Doc itself (issue 13:
// 1.8 MB per loaded 210 KB document, 65% of it this cache). So it lives
// only StateCacheTTL after its last use; a later join encodes again.

// cachedState returns the cached state of this version and keeps it for
// another StateCacheTTL, or nil.
func (d *document) cachedState() *State {
	if d.state != nil {
		d.stateDue = time.Now().Add(d.m.cfg.StateCacheTTL)
	}
	return d.state
}

// cacheState keeps st as this version's state for StateCacheTTL.
func (d *document) cacheState(st *State) {
	d.dropState()
	d.state = st
	d.m.met.stateCacheBytes.Add(float64(st.size()))
	d.stateDue = time.Now().Add(d.m.cfg.StateCacheTTL)
}

// dropState forgets the cached state: the version changed, the document
// unloads, or nobody asked for it for StateCacheTTL. Callers that hold it
// (replies in flight, a compaction) keep their copy.
func (d *document) dropState() {
	if d.state != nil {
		d.m.met.stateCacheBytes.Sub(float64(d.state.size()))
		d.state = nil
	}
}

func (s *State) size() int { return cap(s.Update) }
