package realtime

// joinedDocs is the worker's set of documents a socket joined, each with its
// cached permission. A socket joins one or two documents (an open note, a
// second tab's), so up to joinedFew entries live in a slice searched in order:
// 40 bytes each, where the map it replaces cost ~400 bytes for one entry
// (bench S2: 2,000 sockets of one document each, 0.8 MB of a 12 MB live
// heap). A socket that joins more moves them to a map, so a raised
// Config.MaxDocuments never makes a lookup linear in it.
type joinedDocs struct {
	few  []joinedDoc
	many map[string]docAccess // nil until more than joinedFew
}

type joinedDoc struct {
	id     string
	access docAccess
}

const joinedFew = 8

func (j *joinedDocs) len() int {
	if j.many != nil {
		return len(j.many)
	}
	return len(j.few)
}

func (j *joinedDocs) get(docID string) (docAccess, bool) {
	if j.many != nil {
		a, ok := j.many[docID]
		return a, ok
	}
	for i := range j.few {
		if j.few[i].id == docID {
			return j.few[i].access, true
		}
	}
	return docAccess{}, false
}

func (j *joinedDocs) has(docID string) bool {
	_, ok := j.get(docID)
	return ok
}

func (j *joinedDocs) set(docID string, a docAccess) {
	if j.many != nil {
		j.many[docID] = a
		return
	}
	for i := range j.few {
		if j.few[i].id == docID {
			j.few[i].access = a
			return
		}
	}
	if len(j.few) < joinedFew {
		if j.few == nil {
			j.few = make([]joinedDoc, 0, 1)
		}
		j.few = append(j.few, joinedDoc{docID, a})
		return
	}
	j.many = make(map[string]docAccess, len(j.few)+1)
	for _, d := range j.few {
		j.many[d.id] = d.access
	}
	j.many[docID] = a
	j.few = nil
}

func (j *joinedDocs) del(docID string) {
	if j.many != nil {
		delete(j.many, docID)
		return
	}
	for i := range j.few {
		if j.few[i].id == docID {
			last := len(j.few) - 1
			j.few[i] = j.few[last]
			j.few[last] = joinedDoc{} // drop the references
			j.few = j.few[:last]
			return
		}
	}
}

// ids is a copy of the joined ids, so the caller may leave them while it
// walks the list.
func (j *joinedDocs) ids() []string {
	out := make([]string, 0, j.len())
	if j.many != nil {
		for id := range j.many {
			out = append(out, id)
		}
		return out
	}
	for _, d := range j.few {
		out = append(out, d.id)
	}
	return out
}
