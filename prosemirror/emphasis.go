package prosemirror

import (
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/yuin/goldmark/util"
)

// emphasisWriter makes the delimiters that inlineMarkdownIn writes read
// back as the marks they were written for. CommonMark lets a run of "*"
// (and GFM's "~") open only when it is left-flanking: not followed by
// whitespace, and not followed by punctuation unless preceded by
// whitespace or punctuation; closing is symmetric ("_" is stricter
// still). So italic "." after "a" ("a*.*"), or a mark opened just after
// another's delimiter ("a**~~b~~**"), opened nothing. Adjacent "*"
// delimiters are moreover one run to the parser, which can pair it
// otherwise than written: bold "a", italic "b", bold italic "c" as
// "**a***b**c***" read back as bold "a" and italic "bc**".
//
// finish repairs both. A letter or digit next to a delimiter that cannot
// open (or close) because of it is written as a numeric character
// reference ("&#97;*.*"): the parser sees the reference's ";" (or "&")
// there, punctuation, and reads the reference back as the character.
// Then it runs CommonMark's delimiter pairing over what was written; if
// that reads back other marks than were written, italic (or bold) next
// to the other is written with "_" instead, so that no two meet in one
// run.
type emphasisWriter struct {
	delims []emDelim
	texts  []emText
	// Buffers kept between paragraphs (emWriters).
	runBuf []emRun
	pairs  pairing
}

// emWriters keeps emphasisWriters with their buffers: a note is written
// paragraph by paragraph, each needing the same few slices.
var emWriters = sync.Pool{New: func() any { return new(emphasisWriter) }}

func newEmphasisWriter() *emphasisWriter { return emWriters.Get().(*emphasisWriter) }

// release resets w and returns it to emWriters.
func (w *emphasisWriter) release() {
	w.delims, w.texts, w.runBuf = w.delims[:0], w.texts[:0], w.runBuf[:0]
	w.pairs.all, w.pairs.events = w.pairs.all[:0], w.pairs.events[:0]
	emWriters.Put(w)
}

// emDelim is a delimiter written at md[start:end]: a bold, italic or
// strike run, a link's "[" or "](…)", or a highlight's "==".
type emDelim struct {
	start, end int
	kind       string
	opens      bool
	pair       int // a closing delimiter's opening one, else -1
}

// emText is text written at md[start:end] inside the marks in bits.
type emText struct {
	start int
	bits  uint8
}

const (
	emBold uint8 = 1 << iota
	emItalic
	emStrike
)

func emBit(kind string) uint8 {
	switch kind {
	case MarkBold:
		return emBold
	case MarkItalic:
		return emItalic
	case MarkStrike:
		return emStrike
	}
	return 0
}

// add records a delimiter and returns its index.
func (w *emphasisWriter) add(kind string, start, end int, opens bool, pair int) int {
	w.delims = append(w.delims, emDelim{start: start, end: end, kind: kind, opens: opens, pair: pair})
	return len(w.delims) - 1
}

// text records text written inside the marks open.
func (w *emphasisWriter) text(start, end int, open []Mark) {
	if start == end {
		return
	}
	var bits uint8
	for _, m := range open {
		bits |= emBit(m.Type)
	}
	w.texts = append(w.texts, emText{start: start, bits: bits})
}

// finish returns md with its delimiters repaired.
func (w *emphasisWriter) finish(md []byte) string {
	any := false
	for _, d := range w.delims {
		any = any || emBit(d.kind) != 0
	}
	if !any {
		return string(md)
	}
	runs := w.runs(md)
	ref := w.guard(md, runs)
	// Runs of one delimiter each pair as written once they can open and
	// close: the parser pairs a closer with the nearest opener of its
	// character, which is its own (what lies between is paired and gone),
	// and bold never pairs with italic while one can both open and close
	// (a run of 1 and one of 2 make 3). Only a run of several needs the
	// parser's pairing run over it.
	if !w.merged(md) || w.readsBack(md, runs, ref) {
		return withReferences(md, ref)
	}
	// Some run pairs otherwise than written: write italic, or else bold,
	// with "_" wherever it meets the other in one run, whichever needs
	// fewer references.
	var best []byte
	var bestRef map[int]bool
	for _, kind := range []string{MarkItalic, MarkBold} {
		alt := w.underscores(md, kind)
		if alt == nil {
			continue
		}
		altRuns := w.runs(alt)
		r := w.guard(alt, altRuns)
		if w.readsBack(alt, altRuns, r) && (best == nil || len(r) < len(bestRef)) {
			best, bestRef = alt, r
		}
	}
	if best == nil {
		return withReferences(md, ref)
	}
	return withReferences(best, bestRef)
}

// merged reports whether two delimiters meet in one run.
func (w *emphasisWriter) merged(md []byte) bool {
	for i := 1; i < len(w.delims); i++ {
		a, b := w.delims[i-1], w.delims[i]
		if a.end == b.start && emBit(a.kind) != 0 && emBit(b.kind) != 0 && md[a.start] == md[b.start] {
			return true
		}
	}
	return false
}

// underscores is md with the bold or italic (kind) delimiters that meet
// a "*" delimiter of the other in one run written with "_" (the pair's
// opening and closing one), nil if none do.
func (w *emphasisWriter) underscores(md []byte, kind string) []byte {
	emph := func(d emDelim) bool { return d.kind == MarkBold || d.kind == MarkItalic }
	pairOf := func(i int) int {
		if w.delims[i].opens {
			return i
		}
		return w.delims[i].pair
	}
	var under []bool // by opening delimiter: its pair is written with "_"
	for i := 1; i < len(w.delims); i++ {
		a, b := w.delims[i-1], w.delims[i]
		if !emph(a) || !emph(b) || a.end != b.start || a.kind == b.kind {
			continue
		}
		k := i
		if a.kind == kind {
			k = i - 1
		}
		if p := pairOf(k); p >= 0 {
			if under == nil {
				under = make([]bool, len(w.delims))
			}
			under[p] = true
		}
	}
	if under == nil {
		return nil
	}
	out := append([]byte(nil), md...)
	for j, d := range w.delims {
		if p := pairOf(j); p >= 0 && under[p] {
			for x := d.start; x < d.end; x++ {
				out[x] = '_'
			}
		}
	}
	return out
}

// emRun is a run of one delimiter character as the parser sees it: the
// delimiters written at md[start:end].
type emRun struct {
	start, end    int
	char          byte
	opens, closes bool // what the delimiters in it were written to do
}

// runs groups the bold, italic and strike delimiters into runs.
func (w *emphasisWriter) runs(md []byte) []emRun {
	out := w.runBuf[:0]
	defer func() { w.runBuf = out }()
	for _, d := range w.delims {
		if emBit(d.kind) == 0 {
			continue
		}
		if k := len(out) - 1; k >= 0 && out[k].end == d.start && out[k].char == md[d.start] {
			out[k].end = d.end
			out[k].opens = out[k].opens || d.opens
			out[k].closes = out[k].closes || !d.opens
			continue
		}
		out = append(out, emRun{start: d.start, end: d.end, char: md[d.start], opens: d.opens, closes: !d.opens})
	}
	return out
}

// neighbours is the character before and after md[start:end] as the
// parser sees them (a reference's ";" and "&"), with the offsets of
// those characters, -1 where there is none or it is a reference.
func neighbours(md []byte, start, end int, ref map[int]bool) (prev rune, p int, next rune, q int) {
	prev, p, next, q = '\n', -1, '\n', -1
	if start > 0 {
		r, size := utf8.DecodeLastRune(md[:start])
		prev, p = r, start-size
		if ref[p] {
			prev, p = ';', -1
		}
	}
	if end < len(md) {
		r, _ := utf8.DecodeRune(md[end:])
		next, q = r, end
		if ref[q] {
			next, q = '&', -1
		}
	}
	return prev, p, next, q
}

// canOpenClose is whether a run of c between prev and next can open and
// close, by CommonMark's rules (GFM's strikethrough follows those of
// "*") with goldmark's Unicode classes.
func canOpenClose(c byte, prev, next rune) (open, close bool) {
	prevSpace, nextSpace := util.IsSpaceRune(prev), util.IsSpaceRune(next)
	prevPunct, nextPunct := util.IsPunctRune(prev), util.IsPunctRune(next)
	left := !nextSpace && (!nextPunct || prevSpace || prevPunct)
	right := !prevSpace && (!prevPunct || nextSpace || nextPunct)
	if c == '_' {
		return left && (!right || prevPunct), right && (!left || nextPunct)
	}
	return left, right
}

// guard returns the offsets of the characters to write as references so
// that every run can open and close as written. A reference can stop a
// run on its other side, so this repeats until nothing changes; each
// character becomes a reference at most once.
func (w *emphasisWriter) guard(md []byte, runs []emRun) map[int]bool {
	var ref map[int]bool // nil until needed: most text needs none
	// word: a character that is neither whitespace nor punctuation; as a
	// reference it is punctuation.
	word := func(r rune, at int) bool {
		// U+0000's reference reads as U+FFFD.
		return at >= 0 && r != 0 && r != utf8.RuneError && !util.IsSpaceRune(r) && !util.IsPunctRune(r)
	}
	for changed := true; changed; {
		changed = false
		for _, r := range runs {
			prev, p, next, q := neighbours(md, r.start, r.end, ref)
			open, close := canOpenClose(r.char, prev, next)
			if r.opens && !open && word(prev, p) {
				ref, changed = setRef(ref, p), true
			}
			if r.closes && !close && word(next, q) {
				ref, changed = setRef(ref, q), true
			}
		}
	}
	return ref
}

func setRef(ref map[int]bool, at int) map[int]bool {
	if ref == nil {
		ref = map[int]bool{}
	}
	ref[at] = true
	return ref
}

// readsBack runs the parser's pairing of delimiters (goldmark's
// ProcessDelimiters, a link's text on its own when its "]" comes) over
// md and reports whether every run is used up and every text gets the
// marks it was written with.
func (w *emphasisWriter) readsBack(md []byte, runs []emRun, ref map[int]bool) bool {
	p := &w.pairs
	p.all, p.events, p.tail, p.ok = p.all[:0], p.events[:0], -1, true
	var bottoms []int
	ri := 0
	for _, d := range w.delims {
		switch {
		case d.kind == MarkLink && d.opens:
			bottoms = append(bottoms, len(p.all))
		case d.kind == MarkLink:
			if k := len(bottoms) - 1; k >= 0 {
				p.process(bottoms[k])
				bottoms = bottoms[:k]
			}
		case emBit(d.kind) != 0 && ri < len(runs) && runs[ri].start == d.start:
			r := runs[ri]
			ri++
			prev, _, next, _ := neighbours(md, r.start, r.end, ref)
			// goldmark reads no "~" run after a "~", nor one longer than two.
			if r.char == '~' && (prev == '~' || r.end-r.start > 2) {
				return false
			}
			open, close := canOpenClose(r.char, prev, next)
			if p.tail >= 0 {
				p.all[p.tail].next = len(p.all)
			}
			p.all = append(p.all, pairRun{emRun: r, canOpen: open, canClose: close,
				length: r.end - r.start, orig: r.end - r.start, prev: p.tail, next: -1})
			p.tail = len(p.all) - 1
		}
	}
	p.process(0)
	if !p.ok {
		return false
	}
	// Sweep the marks each match puts on the texts between its runs.
	slices.SortStableFunc(p.events, func(a, b pairEvent) int { return a.at - b.at })
	var count [3]int
	k := 0
	for _, t := range w.texts {
		for ; k < len(p.events) && p.events[k].at <= t.start; k++ {
			for i := range count {
				if p.events[k].bit == 1<<i {
					count[i] += p.events[k].step
				}
			}
		}
		var bits uint8
		for i, c := range count {
			if c > 0 {
				bits |= 1 << i
			}
		}
		if bits != t.bits {
			return false
		}
	}
	return true
}

// pairing is the parser's list of delimiter runs while it pairs them.
type pairing struct {
	all    []pairRun
	tail   int // the last run still in the list
	events []pairEvent
	ok     bool // no run was left as text
}

type pairRun struct {
	emRun
	canOpen, canClose bool
	length, orig      int
	prev, next        int // neighbours in the list, -1 for none
}

// pairEvent: a mark (bit) starts (step 1) or ends (-1) at offset at.
type pairEvent struct {
	at   int
	bit  uint8
	step int
}

func (p *pairing) remove(i int) {
	d := &p.all[i]
	if p.tail == i {
		p.tail = d.prev
	}
	if d.prev >= 0 {
		p.all[d.prev].next = d.next
	}
	if d.next >= 0 {
		p.all[d.next].prev = d.prev
	}
	d.prev, d.next = -1, -1
}

// process pairs the runs all[bottom:] as ProcessDelimiters does, then
// drops them from the list.
func (p *pairing) process(bottom int) {
	for ci := bottom; ci >= 0 && ci < len(p.all); {
		c := &p.all[ci]
		if !c.canClose || c.length == 0 {
			ci = c.next
			continue
		}
		found, maybe := false, false
		consume := 0
		oi := c.prev
		for ; oi >= bottom; oi = p.all[oi].prev {
			o := &p.all[oi]
			if o.canOpen && o.char == c.char {
				maybe = true
				consume = 1
				if (o.canClose || c.canOpen) && (o.orig+c.orig)%3 == 0 && c.orig%3 != 0 {
					consume = 0
				} else if o.length >= 2 && c.length >= 2 {
					consume = 2
				}
				if consume > 0 {
					found = true
					break
				}
			}
		}
		if !found {
			next := c.next
			if !maybe && !c.canOpen {
				p.remove(ci)
			}
			ci = next
			continue
		}
		o := &p.all[oi]
		o.length -= consume
		c.length -= consume
		bit := emStrike
		if c.char != '~' {
			bit = emItalic
			if consume == 2 {
				bit = emBold
			}
		}
		p.events = append(p.events, pairEvent{o.end, bit, 1}, pairEvent{c.start, bit, -1})
		for k := o.next; k >= 0 && k != ci; {
			n := p.all[k].next
			p.remove(k)
			k = n
		}
		if o.length == 0 {
			p.remove(oi)
		}
		if c.length == 0 {
			next := c.next
			p.remove(ci)
			ci = next
		}
	}
	for _, d := range p.all[bottom:] {
		if d.length > 0 {
			p.ok = false // left as text
		}
	}
	p.all = p.all[:bottom]
	p.tail = bottom - 1
	if p.tail >= 0 {
		p.all[p.tail].next = -1
	}
}

// withReferences writes md with the characters at the offsets in ref as
// numeric character references.
func withReferences(md []byte, ref map[int]bool) string {
	if len(ref) == 0 {
		return string(md)
	}
	at := make([]int, 0, len(ref))
	for i := range ref {
		at = append(at, i)
	}
	slices.Sort(at)
	var sb strings.Builder
	sb.Grow(len(md) + 8*len(at))
	last := 0
	for _, i := range at {
		r, size := utf8.DecodeRune(md[i:])
		sb.Write(md[last:i])
		sb.WriteString("&#" + strconv.Itoa(int(r)) + ";")
		last = i + size
	}
	sb.Write(md[last:])
	return sb.String()
}
