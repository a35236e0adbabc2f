package awareness

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// mustApply applies update as socket sid of an account named after the socket.
func mustApply(tb testing.TB, r *Registry, doc, sid, update string) []byte {
	tb.Helper()
	return mustApplyAs(tb, r, doc, sid, "user-"+sid, update)
}

func mustApplyAs(tb testing.TB, r *Registry, doc, sid, user, update string) []byte {
	tb.Helper()
	applied, err := r.Apply(doc, sid, user, []byte(update))
	if err != nil {
		tb.Fatalf("Apply(%s, %s, %s): %v", doc, sid, update, err)
	}
	return applied
}

func same(tb testing.TB, want string, got []byte) {
	tb.Helper()
	if want == "" && got != nil || want != "" && string(got) != want {
		tb.Fatalf("want %q, got %q", want, got)
	}
}

func TestValidateAccepts(t *testing.T) {
	t.Parallel()
	// What the browser's SimpleAwareness sends: JSON.stringify({[doc.clientID]: state}).
	for in, ids := range map[string][]uint64{
		`{}`: nil,
		`{"3960482041":{"user":{"name":"Ada Lovelace","color":"#FF6B6B","id":"k3Jd-x_9AAAB"}}}`:                   {3960482041},
		`{"1":{"user":{"name":"日本 😀"},"cursor":{"anchor":{"type":{"client":1,"clock":4}},"head":null}},"2":null}`: {1, 2},
		` { "9007199254740991" : { } } `: {9007199254740991},
		`{"0":{}}`:                       {0},
	} {
		states, err := Validate([]byte(in), 0)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if len(states) != len(ids) {
			t.Fatalf("%s: got %d states", in, len(states))
		}
		for _, id := range ids {
			if _, ok := states[id]; !ok {
				t.Fatalf("%s: client %d missing", in, id)
			}
		}
	}
	states, _ := Validate([]byte(`{"1":null,"2":{"a": [1, 2]}}`), 0)
	if string(states[1]) != "null" || string(states[2]) != `{"a": [1, 2]}` {
		t.Fatalf("raw states: %s", encode(states))
	}
}

func TestValidateRejects(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"empty":             ``,
		"not JSON":          `hello`,
		"truncated":         `{"1":{"a":1}`,
		"array":             `[{"user":{}}]`,
		"top-level null":    `null`,
		"string":            `"x"`,
		"number as state":   `{"1":5}`,
		"string as state":   `{"1":"x"}`,
		"array as state":    `{"1":[1]}`,
		"bool as state":     `{"1":true}`,
		"non-numeric key":   `{"abc":{}}`,
		"negative key":      `{"-1":{}}`,
		"leading zero":      `{"01":{}}`,
		"float key":         `{"1.5":{}}`,
		"empty key":         `{"":{}}`,
		"key beyond uint53": `{"9007199254740992":{}}`,
		"huge key":          `{"` + strings.Repeat("9", 5000) + `":{}}`,
		"duplicate key":     `{"1":{},"1":null}`,
		"escaped duplicate": `{"1":{},"\u0031":{}}`,
		"trailing data":     `{"1":{}} {}`,
		"trailing garbage":  `{"1":null}garbage`,
		"trailing brace":    `{"1":{}}}`,
		"trailing bracket":  `{"1":{}}]`,
		"trailing comma":    `{"1":{},}`,
		"invalid UTF-8":     "{\"1\":{\"name\":\"\xc3\x28\"}}",
		"deep nesting":      `{"1":` + strings.Repeat(`{"a":`, 40) + `{}` + strings.Repeat(`}`, 40) + `}`,
		"very deep nesting": `{"1":` + strings.Repeat(`[`, 100000) + strings.Repeat(`]`, 100000) + `}`,
	}
	for name, in := range cases {
		if _, err := Validate([]byte(in), 1<<20); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: want ErrInvalid, got %v", name, err)
		}
	}
	over := `{"1":{"pad":"` + strings.Repeat("x", 100) + `"}}`
	if _, err := Validate([]byte(over), 50); !errors.Is(err, ErrInvalid) {
		t.Fatalf("over size: %v", err)
	}
	if _, err := Validate([]byte(over), len(over)); err != nil {
		t.Fatalf("at size: %v", err)
	}
}

func TestRegistryLifecycle(t *testing.T) {
	t.Parallel()
	r := NewRegistry()
	mustApply(t, r, "note:a", "s1", `{"10":{"user":{"name":"A"}}}`)
	mustApply(t, r, "note:a", "s2", `{"20":{"user":{"name":"B"}}}`)
	mustApply(t, r, "note:b", "s1", `{"10":{"user":{"name":"A"}}}`)
	mustApply(t, r, "note:a", "s1", `{"10":{"user":{"name":"A"},"cursor":{"x":1}}}`) // latest wins

	same(t, `{"10":{"user":{"name":"A"},"cursor":{"x":1}},"20":{"user":{"name":"B"}}}`, r.States("note:a", ""))
	same(t, `{"20":{"user":{"name":"B"}}}`, r.States("note:a", "s1"))
	same(t, "", r.States("note:b", "s1"))
	same(t, "", r.States("note:none", ""))

	same(t, `{"20":{}}`, r.Remove("note:a", "s2"))
	same(t, "", r.Remove("note:a", "s2"))
	same(t, "", r.States("note:a", "s1"))

	removed := r.RemoveSocket("s1")
	want := map[string][]byte{"note:a": []byte(`{"10":{}}`), "note:b": []byte(`{"10":{}}`)}
	if !reflect.DeepEqual(want, removed) {
		t.Fatalf("RemoveSocket: %q", removed)
	}
	if r.RemoveSocket("s1") != nil {
		t.Fatal("second RemoveSocket returned updates")
	}
	// Only the owners of the removed ids are left, until MaxDormant pushes them out.
	if d, s := r.size(); d != 2 || s != 0 || r.dormant.Len() != 3 {
		t.Fatalf("registry keeps %d documents, %d sockets, %d dormant", d, s, r.dormant.Len())
	}
	r.MaxDormant = 1
	r.trimDormant()
	if d, _ := r.size(); d != 1 || r.dormant.Len() != 1 {
		t.Fatalf("registry keeps %d documents, %d dormant", d, r.dormant.Len())
	}
}

// Removals are relayed as {} (never null: the stock editor's cursor plugin throws on a
// null state); a client id is its first account's, from any socket of that account.
func TestRegistryRemovalsAndOwnership(t *testing.T) {
	t.Parallel()
	r := NewRegistry()
	same(t, `{"1":{"a":1}}`, mustApplyAs(t, r, "d", "s1", "ann", `{"1":{"a":1}}`))
	same(t, `{"2":{"b":2}}`, mustApplyAs(t, r, "d", "s2", "bob", `{"2":{"b":2}}`))

	// Another account can neither erase nor take ann's client; the whole update is
	// refused, bob's own part included.
	for _, u := range []string{`{"1":null}`, `{"1":{}}`, `{"1":{"x":1}}`, `{"1":null,"2":{"b":3}}`} {
		if _, err := r.Apply("d", "s2", "bob", []byte(u)); !errors.Is(err, ErrForeignClient) {
			t.Fatalf("%s from another account: %v", u, err)
		}
	}
	same(t, `{"1":{"a":1},"2":{"b":2}}`, r.States("d", ""))

	// The owner removes with null or {}: what is applied, and relayed, is {}.
	same(t, `{"1":{}}`, mustApplyAs(t, r, "d", "s1", "ann", `{"1":null}`))
	same(t, `{"2":{"b":2}}`, r.States("d", ""))
	same(t, "", mustApplyAs(t, r, "d", "s1", "ann", `{"1":{}}`)) // nothing left to remove
	same(t, "", r.Remove("d", "s1"))
	// A removal does not give the id away.
	if _, err := r.Apply("d", "s2", "bob", []byte(`{"1":{"x":1}}`)); !errors.Is(err, ErrForeignClient) {
		t.Fatalf("taking a removed client: %v", err)
	}
	// A removal of an id nobody has is a no-op, and does not claim it.
	same(t, "", mustApplyAs(t, r, "d", "s2", "bob", `{"9":null}`))
	same(t, `{"9":{"c":1}}`, mustApplyAs(t, r, "d", "s1", "ann", `{"9":{"c":1}}`))
	same(t, `{"9":{}}`, mustApplyAs(t, r, "d", "s1", "ann", `{"9":null}`))

	// A reconnecting tab keeps its client id under a new socket of the same account, and
	// the old socket's departure must not remove the live cursor.
	mustApplyAs(t, r, "d", "old", "cat", `{"7":{"c":1}}`)
	mustApplyAs(t, r, "d", "new", "cat", `{"7":{"c":2}}`)
	same(t, "", r.Remove("d", "old"))
	same(t, `{"2":{"b":2},"7":{"c":2}}`, r.States("d", ""))
	same(t, `{"7":{}}`, r.Remove("d", "new"))
	// Gone from the room, still cat's: cat's next socket takes it back, bob cannot.
	if _, err := r.Apply("d", "s2", "bob", []byte(`{"7":{"x":1}}`)); !errors.Is(err, ErrForeignClient) {
		t.Fatalf("taking a disconnected account's client: %v", err)
	}
	same(t, `{"7":{"c":3}}`, mustApplyAs(t, r, "d", "newer", "cat", `{"7":{"c":3}}`))
	same(t, `{"7":{}}`, r.Remove("d", "newer"))
	same(t, `{"2":{}}`, r.Remove("d", "s2"))
	if d, s := r.size(); d != 1 || s != 0 || r.dormant.Len() != 4 {
		t.Fatalf("registry keeps %d documents, %d sockets, %d dormant", d, s, r.dormant.Len())
	}
}

// Dormant owners are bounded over the registry, the longest dormant go first, and a
// document whose last owner went is forgotten.
func TestRegistryDormantBound(t *testing.T) {
	t.Parallel()
	r := NewRegistry()
	r.MaxDormant = 10
	mustApplyAs(t, r, "old", "s0", "ann", `{"1":{"a":1}}`)
	same(t, `{"1":{}}`, r.Remove("old", "s0"))
	for i := range 50 {
		id := 100 + i
		mustApplyAs(t, r, "d", "s", "bob", fmt.Sprintf(`{"%d":{"i":1}}`, id))
		mustApplyAs(t, r, "d", "s", "bob", fmt.Sprintf(`{"%d":null}`, id))
	}
	if d, _ := r.size(); d != 1 || r.dormant.Len() != 10 || len(r.docs["d"].clients) != 10 {
		t.Fatalf("%d documents, %d dormant", d, r.dormant.Len())
	}
	// The newest are kept: 149 is still bob's, 100 is free again.
	if _, err := r.Apply("d", "x", "cat", []byte(`{"149":{"c":1}}`)); !errors.Is(err, ErrForeignClient) {
		t.Fatalf("recent dormant id: %v", err)
	}
	mustApplyAs(t, r, "d", "x", "cat", `{"100":{"c":1}}`)
}

func TestRegistryRejects(t *testing.T) {
	t.Parallel()
	r := NewRegistry()
	mustApply(t, r, "d", "s", `{"1":{"a":1}}`)
	for _, bad := range []string{`{"2":5}`, `[1]`, "\xff", `{"x":{}}`} {
		if _, err := r.Apply("d", "s", "user-s", []byte(bad)); !errors.Is(err, ErrInvalid) {
			t.Fatalf("%q: %v", bad, err)
		}
	}
	same(t, `{"1":{"a":1}}`, r.States("d", ""))

	var many []string
	for i := range MaxClientsPerSocket + 1 {
		many = append(many, fmt.Sprintf(`"%d":{"i":1}`, 100+i))
	}
	_, err := r.Apply("d", "s", "u", []byte("{"+strings.Join(many, ",")+"}"))
	if !errors.Is(err, ErrTooManyClients) {
		t.Fatalf("too many: %v", err)
	}
	same(t, `{"1":{"a":1}}`, r.States("d", "")) // nothing of the refused update kept
	r.MaxBytes = 10
	if _, err := r.Apply("d", "s", "user-s", []byte(`{"1":{"a":12345}}`)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("over MaxBytes: %v", err)
	}
}

func TestRegistryKeepsNoAlias(t *testing.T) {
	t.Parallel()
	r := NewRegistry()
	buf := []byte(`{"1":{"a":1}}`)
	if _, err := r.Apply("d", "s", "u", buf); err != nil {
		t.Fatal(err)
	}
	copy(buf, `{"1":{"a":9}}`)
	same(t, `{"1":{"a":1}}`, r.States("d", ""))
}

func TestRegistryConcurrent(t *testing.T) {
	t.Parallel()
	r := NewRegistry()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sid := fmt.Sprintf("s%d", w)
			for i := range 200 {
				doc := fmt.Sprintf("note:%d", i%5)
				if _, err := r.Apply(doc, sid, sid, []byte(fmt.Sprintf(`{"%d":{"i":%d}}`, w, i))); err != nil {
					t.Error(err)
					return
				}
				_ = r.States(doc, sid)
				if i%7 == 0 {
					r.Remove(doc, sid)
				}
			}
			r.RemoveSocket(sid)
		}()
	}
	wg.Wait()
	if d, s := r.size(); d != 5 || s != 0 || r.dormant.Len() != 5*8 {
		t.Fatalf("registry keeps %d documents, %d sockets, %d dormant", d, s, r.dormant.Len())
	}
	for i := range 5 {
		same(t, "", r.States(fmt.Sprintf("note:%d", i), ""))
	}
}

func FuzzValidate(f *testing.F) {
	for _, s := range []string{`{}`, `{"1":null}`, `{"3960482041":{"user":{"name":"A","color":"#fff","id":"x"},"cursor":null}}`,
		`{"1":{},"2":{"a":[1,{"b":"\u00e9"}]}}`, `{"01":{}}`, `[]`, `{"1":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		states, err := Validate(b, 1<<16)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		// Whatever passed must re-encode to an update that validates to the same states.
		again, err := Validate(encode(states), 1<<20)
		if len(states) == 0 {
			if encode(states) != nil {
				t.Fatal("empty states encode to bytes")
			}
			return
		}
		if err != nil {
			t.Fatalf("re-encoded update invalid: %v", err)
		}
		if !reflect.DeepEqual(states, again) {
			t.Fatalf("round trip changed states: %s vs %s", encode(states), encode(again))
		}
		for id, st := range states {
			if string(st) != "null" && !json.Valid(st) {
				t.Fatalf("client %d: invalid JSON kept", id)
			}
		}
	})
}
