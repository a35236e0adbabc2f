package yupdate

import (
	"fmt"
	"unicode/utf8"
)

// maxUint53 bounds every integer: yjs writes JavaScript safe integers at most.
const maxUint53 = 1<<53 - 1

// reader walks a byte slice; every read checks bounds and fails with ErrInvalid.
type reader struct {
	b   []byte
	pos int
}

func (r *reader) errf(format string, args ...any) error {
	return fmt.Errorf("%w: %s at offset %d", ErrInvalid, fmt.Sprintf(format, args...), r.pos)
}

func (r *reader) remaining() int { return len(r.b) - r.pos }

func (r *reader) byte() (byte, error) {
	if r.pos >= len(r.b) {
		return 0, r.errf("unexpected end of input")
	}
	c := r.b[r.pos]
	r.pos++
	return c, nil
}

// uint reads lib0's unsigned varint (7 bits per byte, little-endian groups).
func (r *reader) uint() (uint64, error) {
	start := r.pos
	var v uint64
	for shift := uint(0); ; shift += 7 {
		if r.pos >= len(r.b) {
			r.pos = start
			return 0, r.errf("unterminated varint")
		}
		c := r.b[r.pos]
		r.pos++
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			break
		}
		if shift == 49 { // eight bytes already carry 56 bits
			r.pos = start
			return 0, r.errf("varint longer than 53 bits")
		}
	}
	if v > maxUint53 {
		r.pos = start
		return 0, r.errf("varint %d exceeds 53 bits", v)
	}
	return v, nil
}

// int reads lib0's signed varint: 6 value bits and a sign bit in the first byte.
func (r *reader) int() error {
	start := r.pos
	c, err := r.byte()
	if err != nil {
		return err
	}
	v := uint64(c & 0x3f)
	shift := uint(6)
	for c&0x80 != 0 {
		if shift > 48 { // eight bytes already carry 55 bits
			r.pos = start
			return r.errf("signed varint longer than 53 bits")
		}
		if c, err = r.byte(); err != nil {
			return err
		}
		v |= uint64(c&0x7f) << shift
		shift += 7
	}
	if v > maxUint53 {
		r.pos = start
		return r.errf("signed varint exceeds 53 bits")
	}
	return nil
}

// count reads a varint that announces how many things follow, each at least one byte.
// newClient reads a client id and adds it to seen; a client seen already
// is an error, dupFormat's (it takes the client), at the id.
func (r *reader) newClient(seen map[uint64]struct{}, dupFormat string) (uint64, error) {
	at := r.pos
	client, err := r.uint()
	if err != nil {
		return 0, err
	}
	if _, dup := seen[client]; dup {
		r.pos = at
		return 0, r.errf(dupFormat, client)
	}
	seen[client] = struct{}{}
	return client, nil
}

func (r *reader) count(what string) (int, error) {
	start := r.pos
	n, err := r.uint()
	if err != nil {
		return 0, err
	}
	if n > uint64(r.remaining()) {
		r.pos = start
		return 0, r.errf("%s %d exceeds the %d remaining bytes", what, n, r.remaining())
	}
	return int(n), nil
}

// bytes reads a varint length and that many bytes.
func (r *reader) bytes(what string, max int) ([]byte, error) {
	start := r.pos
	v, err := r.uint()
	if err != nil {
		return nil, err
	}
	if v > uint64(r.remaining()) {
		r.pos = start
		return nil, r.errf("%s length %d exceeds the %d remaining bytes", what, v, r.remaining())
	}
	n := int(v)
	if n > max {
		r.pos = start
		return nil, r.errf("%s of %d bytes exceeds the limit of %d", what, n, max)
	}
	s := r.b[r.pos : r.pos+n]
	r.pos += n
	return s, nil
}

// string reads a varint length and that many bytes of UTF-8.
func (r *reader) string(what string, max int) ([]byte, error) {
	start := r.pos
	s, err := r.bytes(what, max)
	if err != nil {
		return nil, err
	}
	if !utf8.Valid(s) {
		r.pos = start
		return nil, r.errf("%s is not valid UTF-8", what)
	}
	return s, nil
}

func (r *reader) skip(n int) error {
	if n > r.remaining() {
		return r.errf("unexpected end of input")
	}
	r.pos += n
	return nil
}

// utf16Len is the length of s in UTF-16 code units, the unit of yjs string clocks.
func utf16Len(s []byte) uint64 {
	n := uint64(0)
	for _, c := range string(s) {
		n++
		if c >= 0x10000 {
			n++
		}
	}
	return n
}
