package api

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"
)

// streamedRead is how bodies were read before decode read them whole:
// a json.Decoder over the capped body (one value, then only white
// space), and for a form the value's bytes checked (UTF-8, then keys
// compared with every field's tag) before json.Unmarshal. Maps got no
// UTF-8 check then; they get it last now.
func streamedRead(w http.ResponseWriter, r *http.Request, limit int64, v any, sent []byte) (int, error) {
	if !jsonLabelled(r) {
		return http.StatusUnsupportedMediaType, errors.New("request body must be sent with Content-Type: application/json")
	}
	_, form := formType(v)
	target := v
	var raw json.RawMessage
	if form {
		target = &raw
	}
	br := bufio.NewReader(http.MaxBytesReader(w, r.Body, limit))
	if nullFirst(br) {
		return http.StatusBadRequest, errors.New("request body must be a JSON object")
	}
	dec := json.NewDecoder(br)
	if err := dec.Decode(target); err != nil {
		return decodeStatus(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil {
			if s, e := decodeStatus(err); s == http.StatusRequestEntityTooLarge {
				return s, e
			}
		}
		return http.StatusBadRequest, errors.New("request body must be a single JSON object")
	}
	if !utf8.Valid(sent) {
		return http.StatusBadRequest, errors.New("request body must be valid UTF-8")
	}
	if !form {
		return 0, nil
	}
	t := reflect.TypeOf(v).Elem()
	for lit := range membersOf(raw) {
		k, err := objectKey(lit)
		if err != nil {
			break
		}
		for i := range t.NumField() {
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
			if k != name && strings.EqualFold(k, name) {
				return http.StatusBadRequest, fmt.Errorf("request body must not hold %q: a key differing from %q only in case is ambiguous", k, name)
			}
		}
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return decodeStatus(err)
	}
	return 0, nil
}

// membersOf yields raw's top-level keys when it is an object.
func membersOf(raw json.RawMessage) func(func([]byte) bool) {
	return func(yield func([]byte) bool) {
		var m map[string]json.RawMessage
		if raw = bytes.TrimLeft(raw, " \t\r\n"); len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &m) != nil {
			return
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		_, _ = dec.Token()
		for dec.More() {
			tok, _ := dec.Token()
			lit, _ := json.Marshal(tok)
			if !yield(lit) {
				return
			}
			var skip json.RawMessage
			_ = dec.Decode(&skip)
		}
	}
}

// targets are what readJSON reads into: forms and maps.
var targets = []func() any{
	func() any { return new(noteForm) },
	func() any { return new(chatForm) },
	func() any { return new(cloneForm) },
	func() any { return new(object) },
	func() any { return new(map[string]json.RawMessage) },
}

// checkDecode: decode, reading the body once and parsing it once, answers
// every body as the streamed read did (status and text), and on success
// fills v the same, whatever the limit and however the body arrives.
func checkDecode(t *testing.T, body []byte, limit int64, target byte, chunked bool) {
	newV := targets[int(target)%len(targets)]
	request := func() *http.Request {
		var rd io.Reader = bytes.NewReader(body)
		if chunked {
			rd = iotest.OneByteReader(rd)
		}
		r := httptest.NewRequest("POST", "/", rd)
		r.Header.Set("Content-Type", "application/json")
		if chunked {
			r.ContentLength = -1
		}
		return r
	}
	want, got := newV(), newV()
	wantStatus, wantErr := streamedRead(httptest.NewRecorder(), request(), limit, want, body)
	status, err := decode(httptest.NewRecorder(), request(), limit, got)
	if status != wantStatus || fmt.Sprint(err) != fmt.Sprint(wantErr) {
		t.Fatalf("%T %q (limit %d): %d %v, want %d %v", got, body, limit, status, err, wantStatus, wantErr)
	}
	if err == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%T %q: read %+v, want %+v", got, body, got, want)
	}
}

var decodeCorpus = []string{
	``, ` `, `{}`, ` {"title":"a"} `, `null`, ` nul`, `{"title":"a"} x`, `{"title":"a"} {}`, `{"title":"a"}"tail`,
	`{"title":"a"} 12345678901234567890`, `{"title":"a"}` + strings.Repeat(" ", 64), `{"title":`, `{"title":"a"`,
	`{"title":"a","Title":"b"}`, `{"Title":"b","title":"a"}`, `{"titl\u0065":"a","TİTLE":1}`, `{"meſſage_id":"x"}`,
	`{"title":1}`, `{"title":"a\xff"}`, `{"title":"a\xff"`, "{\"title\":\"a\xff\",\"Title\":1}", `[1]`, `"s"`, `7`,
	`{"data":{"a":1},"DATA":null}`, `{"access_grants":[{"principal_type":1}]}`, `{"chat":{"x":[1,2]},"folder_id":"f"}`,
	`{"ui":{},"UI":1}`, `{"model":"m","messages":[]}`, `{"title":"a"}` + "\n\t\r", `{"title":"a"}]`, `{"a":1}{`,
	strings.Repeat(" ", 40) + `{}`, `{"title":"` + strings.Repeat("x", 100) + `"}`, `{"title":"a"} ` + strings.Repeat("x", 80),
}

// Not parallel (nor TestFormNames): a paused parallel test of package api
// is a goroutine in api that requireNoChatGoroutines counts as left behind.
func TestDecodeAsStreamed(t *testing.T) {
	for _, s := range decodeCorpus {
		for limit := int64(1); limit <= int64(len(s))+2; limit++ {
			for target := range targets {
				checkDecode(t, []byte(s), limit, byte(target), limit%2 == 0)
			}
		}
		for target := range targets {
			checkDecode(t, []byte(s), 1<<20, byte(target), false)
		}
	}
}

func FuzzDecodeAsStreamed(f *testing.F) {
	for i, s := range decodeCorpus {
		f.Add([]byte(s), uint16(len(s)), byte(i), i%2 == 0)
	}
	f.Fuzz(func(t *testing.T, body []byte, limit uint16, target byte, chunked bool) {
		checkDecode(t, body, int64(limit)+1, target, chunked)
	})
}

// TestFormNames: a form's keys are its fields' names as encoding/json
// reads them (tags, Go names of untagged fields, promoted fields of an
// untagged embedded struct; not "-" or unexported ones), and a key is
// refused exactly when it folds (as encoding/json matches keys) to one of
// them without being it.
func TestFormNames(t *testing.T) {
	type Inner struct {
		Deep   string `json:"deep_name"`
		Plain  string
		hidden string
	}
	type form struct {
		Inner
		cloneForm
		Tagged  string `json:"tagged,omitempty"`
		Skipped string `json:"-"`
		Dash    string `json:"-,"`
		Untag   string
		Kelvin  string `json:"k"`
		private string
	}
	_ = form{}.private
	const name, variant, none = 0, 1, 2
	for key, kind := range map[string]int{
		"deep_name": name, "Deep_Name": variant, "Deep": none, "Plain": name, "plain": variant, "PLAIN": variant,
		"hidden": none, "title": name, "TITLE": variant, "message_id": name, "Message_Id": variant, "tagged": name,
		"Tagged": variant, "Skipped": none, "skipped": none, "-": name, "Untag": name, "untag": variant,
		"k": name, "K": variant, "\u212a": variant, "Inner": none, "inner": none, "cloneForm": none, "other": none,
	} {
		body, err := json.Marshal(map[string]string{key: "v"})
		if err != nil {
			t.Fatal(err)
		}
		if err := formCaseVariant(body, new(form)); (err != nil) != (kind == variant) {
			t.Errorf("%q: %v, want refused %v", key, err, kind == variant)
		}
		// encoding/json agrees: a name or a variant fills a field, any
		// other key nothing.
		var zero, got form
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatal(err)
		}
		if reflect.DeepEqual(got, zero) != (kind == none) {
			t.Errorf("%q: encoding/json reads %+v", key, got)
		}
	}
	if formCaseVariant([]byte(`{"title":"a"}`), new(object)) != nil || formCaseVariant([]byte(`{"Ui":1}`), new(map[string]any)) != nil {
		t.Error("a map's keys are read as sent: none is a variant")
	}
}

// BenchmarkFormCaseVariant: the keys of a form body, looked up by their
// folded names (once per type), not compared with every tag.
func BenchmarkFormCaseVariant(b *testing.B) {
	body := []byte(`{"title":"t","data":{"content":{"md":"m"}},"meta":{},"access_grants":[],"x":1}`)
	for b.Loop() {
		if err := formCaseVariant(body, new(noteForm)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadChatBody is the CPU of reading an 8 MB chat save's body
// into its form: checked and parsed whole (decode), and decoded as it
// was before (a decoder over the stream, no checks).
//
//	go test ./api -run '^$' -bench ReadChatBody -benchtime 20x
func BenchmarkReadChatBody(b *testing.B) {
	text := strings.Repeat("Quire keeps the notes — « ça marche » 😀. ", 50)
	var msgs []string
	for i := 0; len(msgs)*len(text) < 8<<20; i++ {
		msgs = append(msgs, fmt.Sprintf(`{"id":"m-%06d","role":"user","content":%q,"childrenIds":[],"done":true}`, i, text))
	}
	body := []byte(`{"chat":{"title":"t","messages":[` + strings.Join(msgs, ",") + `]},"folder_id":null}`)
	for _, read := range []struct {
		name string
		fn   func(http.ResponseWriter, *http.Request, int64, any, []byte) (int, error)
	}{
		{"whole", func(w http.ResponseWriter, r *http.Request, limit int64, v any, _ []byte) (int, error) {
			return decode(w, r, limit, v)
		}},
		{"streamed", func(w http.ResponseWriter, r *http.Request, limit int64, v any, _ []byte) (int, error) {
			// readJSON before: no checks, one decoder into the form.
			br := bufio.NewReader(http.MaxBytesReader(w, r.Body, limit))
			_ = nullFirst(br)
			dec := json.NewDecoder(br)
			if err := dec.Decode(v); err != nil {
				return decodeStatus(err)
			}
			_, err := dec.Token()
			return 0, map[bool]error{true: nil, false: err}[errors.Is(err, io.EOF)]
		}},
	} {
		b.Run(read.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				r := httptest.NewRequest("POST", "/", bytes.NewReader(body))
				r.Header.Set("Content-Type", "application/json")
				var f chatForm
				if _, err := read.fn(httptest.NewRecorder(), r, 16<<20, &f, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
