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
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/quire/quire/internal/jsonscan"
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

// readJSON reads one JSON value from the (size-capped) body into v, as
// decode does; on an error it answers the request with it and returns
// false.
func readJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) bool {
	if status, err := decode(w, r, limit, v); err != nil {
		writeError(w, status, err.Error())
		return false
	}
	return true
}

// readExactJSON is readJSON for a form v (a pointer to a struct) read
// as JSON.parse and Open WebUI's server read it. The body must be UTF-8:
// encoding/json reads a stray byte as U+FFFD, so a message was stored
// with another text than the one sent. No key may differ from one of the
// form's only in case: encoding/json matches those in any case, the last
// winning, so {"content":"a","Content":"b"} stored "b" (chats refuse the
// same keys: caseVariant).
func readExactJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) bool {
	var raw json.RawMessage
	if !readJSON(w, r, limit, &raw) {
		return false
	}
	if !utf8.Valid(raw) {
		writeError(w, http.StatusBadRequest, "request body must be valid UTF-8")
		return false
	}
	if err := formCaseVariant(raw, v); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return false
	}
	if err := json.Unmarshal(raw, v); err != nil {
		status, err := decodeStatus(err)
		writeError(w, status, err.Error())
		return false
	}
	return true
}

// formCaseVariant refuses a top-level key of raw that differs only in
// case (as encoding/json folds it: strings.EqualFold) from a JSON name of
// the struct v points to. raw is valid JSON (readJSON took it); one that
// is no object is Unmarshal's to refuse. The keys are read where they
// stand (jsonscan), not decoded with the values: a note's body is large.
func formCaseVariant(raw json.RawMessage, v any) error {
	if raw = bytes.TrimLeft(raw, " \t\r\n"); len(raw) == 0 || raw[0] != '{' {
		return nil
	}
	t := reflect.TypeOf(v).Elem()
	for lit := range jsonscan.Members(raw) {
		k, err := objectKey(lit)
		if err != nil {
			return nil // Unmarshal refuses it with its own error
		}
		for i := range t.NumField() {
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
			if k != name && strings.EqualFold(k, name) {
				return fmt.Errorf("request body must not hold %q: a key differing from %q only in case is ambiguous", k, name)
			}
		}
	}
	return nil
}

// decode reads one JSON value from the (size-capped) body into v. Unknown
// fields are ignored for compatibility with Open WebUI clients; anything
// else wrong is an error whose text is safe to show.
//
// The body must be labelled application/json: a form or text/plain post
// from another site's page is sent without a CORS preflight, so only a
// JSON label proves the caller went through one.
func decode(w http.ResponseWriter, r *http.Request, limit int64, v any) (status int, err error) {
	if !jsonLabelled(r) {
		return http.StatusUnsupportedMediaType, errors.New("request body must be sent with Content-Type: application/json")
	}
	body := bufio.NewReader(http.MaxBytesReader(w, r.Body, limit))
	if nullFirst(body) {
		// encoding/json decodes a top-level null into anything without an
		// error and leaves it as it was: an update would run as if {} had
		// been sent.
		return http.StatusBadRequest, errors.New("request body must be a JSON object")
	}
	dec := json.NewDecoder(body)
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
