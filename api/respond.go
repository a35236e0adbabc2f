package api

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/quire/quire/internal/rowid"
)

// detail is every error body.
type detail struct {
	Detail string `json:"detail"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		status, buf = http.StatusInternalServerError, *bytes.NewBufferString(`{"detail":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, detail{Detail: msg})
}

// internalError logs a fault (never shown to the client) and answers 500.
func (a *API) internalError(w http.ResponseWriter, r *http.Request, op string, err error) {
	a.log.ErrorContext(r.Context(), "request failed", "op", op, "err", err)
	writeError(w, http.StatusInternalServerError, "internal error")
}

// Error messages shown to clients.
const (
	msgUnauthenticated = "Your session has expired or the token is invalid. Please sign in again."
	msgNotFound        = "Not found"
	msgForbidden       = "You do not have permission to do this"
	msgAdminOnly       = "Only an admin may do this"
	msgBadCredentials  = "Incorrect email or password"
	msgEmailTaken      = "This email is already registered"
	msgBadValue        = "data and meta must not contain NUL characters or numbers beyond double precision"
)

// readJSON reads the (size-capped) body, one JSON value, into v; on an
// error it answers the request with it and returns false.
//
// The body is read as JSON.parse and Open WebUI's server read it. It must
// be UTF-8: encoding/json reads a stray byte as U+FFFD, so a text was
// stored other than it was sent. When v points to a struct (a form), no
// top-level key may differ from one of its JSON names only in case:
// encoding/json matches those in any case, the last winning, so
// {"content":"a","Content":"b"} stored "b" (formCaseVariant; a chat's
// own keys: caseVariant). Maps keep every key as sent, so only the UTF-8
// rule applies to them.
func readJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) bool {
	if status, err := decode(w, r, limit, v); err != nil {
		writeError(w, status, err.Error())
		return false
	}
	return true
}

// decode reads the body as readJSON does. Unknown fields are ignored for
// compatibility with Open WebUI clients; anything wrong is an error whose
// text is safe to show. The body is read once into memory and parsed
// once (json.Unmarshal); the checks before it are plain byte scans.
//
// The body must be labelled application/json: a form or text/plain post
// from another site's page is sent without a CORS preflight, so only a
// JSON label proves the caller went through one.
func decode(w http.ResponseWriter, r *http.Request, limit int64, v any) (status int, err error) {
	if !jsonLabelled(r) {
		return http.StatusUnsupportedMediaType, errors.New("request body must be sent with Content-Type: application/json")
	}
	body, err := readBody(w, r, limit)
	if err != nil {
		// Too large, or the connection failed: never a value to take, but
		// which error the client gets depends on where the JSON stands when
		// the bytes end (a malformed start is 400, not 413), as streamed.
		return streamStatus(io.MultiReader(bytes.NewReader(body), errReader{err}), v)
	}
	switch first := bytes.TrimLeft(body, " \t\r\n"); {
	case len(first) == 0:
		return http.StatusBadRequest, errors.New("request body is empty")
	case first[0] == 'n':
		// encoding/json decodes a top-level null into anything without an
		// error and leaves it as it was: an update would run as if {} had
		// been sent.
		return http.StatusBadRequest, errors.New("request body must be a JSON object")
	}
	// Malformed JSON is reported before what is wrong with a valid body;
	// Unmarshal checks it first, the other checks ask only when they fail.
	if !utf8.Valid(body) {
		return validFirst(body, v, http.StatusBadRequest, errors.New("request body must be valid UTF-8"))
	}
	if err := formCaseVariant(body, v); err != nil {
		return validFirst(body, v, http.StatusBadRequest, err)
	}
	if err := json.Unmarshal(body, v); err != nil {
		// A syntax error may be trailing data, told apart as streamed.
		status, err := decodeStatus(err)
		return validFirst(body, v, status, err)
	}
	return 0, nil
}

// validFirst answers status and err, unless body is no single JSON value
// (streamStatus): that error first.
func validFirst(body []byte, v any, status int, err error) (int, error) {
	if s, serr := streamStatus(bytes.NewReader(body), v); serr != nil {
		return s, serr
	}
	return status, err
}

// readBody reads the whole body, at most limit bytes (then the error is a
// *http.MaxBytesError). The buffer grows towards the declared length,
// doubling, not to it at once: a declared length alone, without the
// bytes, allocates little.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	want := limit + 1 // room to meet the end without growing
	if r.ContentLength >= 0 {
		want = min(want, r.ContentLength+1)
	}
	body := http.MaxBytesReader(w, r.Body, limit)
	buf := make([]byte, 0, min(want, 64<<10))
	for {
		if len(buf) == cap(buf) {
			next := 2 * int64(cap(buf))
			if 2*next > want {
				next = want // the last step takes the rest: one copy less
			}
			// Beyond the declared length (net/http stops there): read on.
			grown := make([]byte, len(buf), max(next, int64(cap(buf))+512))
			copy(grown, buf)
			buf = grown
		}
		n, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// errReader fails every read with err: the end of a body cut short.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// streamStatus decodes body as a stream, as the server once read every
// body: one value (into a throwaway RawMessage when v is a form, whose
// types are checked after the rules; else into v), then nothing but
// white space. It gives the status and error for a body that is no
// single JSON value, or 0 and nil.
func streamStatus(body io.Reader, v any) (int, error) {
	var raw json.RawMessage
	if _, ok := formType(v); ok {
		v = &raw
	}
	br := bufio.NewReader(body)
	if nullFirst(br) {
		return http.StatusBadRequest, errors.New("request body must be a JSON object")
	}
	dec := json.NewDecoder(br)
	if err := dec.Decode(v); err != nil {
		return decodeStatus(err)
	}
	// One value only: trailing garbage is as malformed as a broken value.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil {
			if s, e := decodeStatus(err); s == http.StatusRequestEntityTooLarge {
				return s, e
			}
		}
		return http.StatusBadRequest, errors.New("request body must be a single JSON object")
	}
	return 0, nil
}

// nullFirst reports whether the body's first value starts like null (a
// body that does not is left for the decoder to judge, from its start).
func nullFirst(br *bufio.Reader) bool {
	for {
		c, err := br.ReadByte()
		if err != nil {
			return false // the decoder meets the error again
		}
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		_ = br.UnreadByte()
		return c == 'n'
	}
}

// jsonLabelled reports whether the request says its body is JSON (a
// charset parameter is fine).
func jsonLabelled(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/json"
}

func decodeStatus(err error) (int, error) {
	var tooBig *http.MaxBytesError
	var typ *json.UnmarshalTypeError
	var syn *json.SyntaxError
	switch {
	case errors.As(err, &tooBig):
		return http.StatusRequestEntityTooLarge, fmt.Errorf("request body is larger than %d bytes", tooBig.Limit)
	case errors.Is(err, io.EOF):
		return http.StatusBadRequest, errors.New("request body is empty")
	case errors.As(err, &typ):
		if typ.Field == "" {
			return http.StatusBadRequest, errors.New("request body must be a JSON object")
		}
		return http.StatusBadRequest, fmt.Errorf("field %q must be %s", typ.Field, kindName(typ.Type.Kind().String()))
	case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF):
		return http.StatusBadRequest, errors.New("request body is not valid JSON")
	default:
		return http.StatusBadRequest, errors.New("request body is not valid JSON")
	}
}

func kindName(k string) string {
	switch k {
	case "slice":
		return "an array"
	case "struct", "map":
		return "an object"
	case "int", "int64", "float64":
		return "a number"
	default:
		return "a " + k
	}
}

// cleanText reports whether s can be stored as text in both databases:
// valid UTF-8, no NUL.
func cleanText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// validID reports whether a path or body id can name a row; anything else
// cannot exist, so callers answer 404 (or 400 in a body) without a query.
func validID(id string) bool { return rowid.Valid(id) }

// maxPage bounds ?page.
const maxPage = 1_000_000

// pageParam reads ?page, a number from 1 to maxPage; absent, it is 1
// (the list endpoints that list everything without a page ask q.Has).
// Any other value, an empty one too, is answered 400 and ok is false:
// Open WebUI's frontend sends a number or no page at all, and Open
// WebUI's server refuses anything else (422).
func pageParam(w http.ResponseWriter, q url.Values) (page int, ok bool) {
	page, err := intParam(q, "page", 1, 1, maxPage)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return 0, false
	}
	return page, true
}

// intParam reads the query parameter name, an integer from min to max;
// absent, it is def. Any other value, an empty one too, is an error whose
// text names the parameter and its range.
func intParam(q url.Values, name string, def, min, max int) (int, error) {
	if !q.Has(name) {
		return def, nil
	}
	n, err := strconv.Atoi(q.Get(name))
	if err != nil || n < min || n > max {
		return 0, fmt.Errorf("%s must be an integer from %d to %d", name, min, max)
	}
	return n, nil
}

// pathID is the request's path value name, an id; one that cannot be an
// id is answered 404, as an unknown one would be, and ok is false.
func pathID(w http.ResponseWriter, r *http.Request, name string) (id string, ok bool) {
	id = r.PathValue(name)
	if !validID(id) {
		writeError(w, http.StatusNotFound, msgNotFound)
		return "", false
	}
	return id, true
}
