package yupdate

import (
	"encoding/json"
	"errors"
	"maps"
	"os"
	"runtime"
	"strconv"
	"testing"
)

// fixture is one entry of testdata/fixtures.json, written by testdata/gen.mjs from yjs.
type fixture struct {
	Name    string                 `json:"name"`
	Kind    string                 `json:"kind"` // "update" or "sv"
	Data    []byte                 `json:"data"`
	Structs map[string][][2]uint64 `json:"structs"`
	Deletes map[string][][2]uint64 `json:"deletes"`
	Deps    [][2]uint64            `json:"deps"`
	SV      map[string]uint64      `json:"sv"`
}

func loadFixtures(tb testing.TB) []fixture {
	tb.Helper()
	b, err := os.ReadFile("testdata/fixtures.json")
	noErr(tb, err)
	var fs []fixture
	noErr(tb, json.Unmarshal(b, &fs))
	check(tb, len(fs) > 0, "no fixtures")
	return fs
}

func updates(tb testing.TB) map[string][]byte {
	out := map[string][]byte{}
	for _, f := range loadFixtures(tb) {
		if f.Kind == "update" {
			out[f.Name] = f.Data
		}
	}
	return out
}

func toRanges(tb testing.TB, m map[string][][2]uint64) map[uint64][]Range {
	tb.Helper()
	out := map[uint64][]Range{}
	for k, rs := range m {
		c, err := strconv.ParseUint(k, 10, 64)
		noErr(tb, err)
		for _, r := range rs {
			out[c] = append(out[c], Range{r[0], r[1]})
		}
	}
	return out
}

func TestParseFixtures(t *testing.T) {
	t.Parallel()
	n := 0
	for _, f := range loadFixtures(t) {
		switch f.Kind {
		case "update":
			n++
			u, err := Parse(f.Data, Limits{})
			noErr(t, err, f.Name)
			equal(t, toRanges(t, f.Structs), u.Structs, f.Name)
			equal(t, toRanges(t, f.Deletes), u.Deletes, f.Name)
			var deps []ID
			for _, d := range f.Deps {
				deps = append(deps, ID{d[0], d[1]})
			}
			equal(t, deps, u.Deps, f.Name)
		case "sv":
			sv, err := ParseStateVector(f.Data, Limits{})
			noErr(t, err, f.Name)
			want := map[uint64]uint64{}
			for k, v := range f.SV {
				c, _ := strconv.ParseUint(k, 10, 64)
				want[c] = v
			}
			equal(t, want, sv, f.Name)
		}
	}
	check(t, n > 200, "only", n, "update fixtures")
}

func TestEmptyUpdate(t *testing.T) {
	t.Parallel()
	u, err := Parse([]byte{0, 0}, Limits{})
	noErr(t, err)
	check(t, len(u.Structs) == 0 && len(u.Deletes) == 0 && len(u.Deps) == 0, u)
	check(t, !u.Missing(nil), "empty update misses something")
}

// TestMissing replays delivery orders (in order, shuffled, reversed) that gen.mjs ran
// against yjs: Missing must agree with whether yjs left the update pending.
func TestMissing(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("testdata/missing.json")
	noErr(t, err)
	var cases []struct {
		Name    string `json:"name"`
		SV      []byte `json:"sv"`
		Update  string `json:"update"`
		Missing bool   `json:"missing"`
	}
	noErr(t, json.Unmarshal(b, &cases))
	ups := updates(t)
	held := 0
	for _, c := range cases {
		sv, err := ParseStateVector(c.SV, Limits{})
		noErr(t, err)
		u, err := Parse(ups[c.Update], Limits{})
		noErr(t, err, c.Update)
		equal(t, c.Missing, u.Missing(sv), c.Update, "against", sv)
		if c.Missing {
			held++
		}
	}
	check(t, held > 100 && len(cases)-held > 100, "cases must include held and applied updates", held, len(cases))
}

// TestDeliverShuffled holds updates until Missing is false, tracking the state vector from
// Structs alone, and checks every update of a session ends up applied in some order.
func TestDeliverShuffled(t *testing.T) {
	t.Parallel()
	ups := updates(t)
	for _, seq := range []string{"seq/text", "seq/prose", "seq/map"} {
		var log []*Update
		for i := 0; ; i++ {
			b, ok := ups[seq+"/"+strconv.Itoa(i)]
			if !ok {
				break
			}
			u, err := Parse(b, Limits{})
			noErr(t, err)
			log = append(log, u)
		}
		check(t, len(log) > 20, seq, len(log))
		// Reverse order is the worst case: everything waits for the first update.
		sv := map[uint64]uint64{}
		var held []*Update
		apply := func(u *Update) {
			for c, rs := range u.Structs {
				sv[c] = max(sv[c], rs[len(rs)-1].End())
			}
		}
		for i := len(log) - 1; i >= 0; i-- {
			held = append(held, log[i])
			for progress := true; progress; {
				progress = false
				for k, h := range held {
					if !h.Missing(sv) {
						apply(h)
						held = append(held[:k], held[k+1:]...)
						progress = true
						break
					}
				}
			}
			if i > 0 {
				check(t, len(held) > 0, seq, ": an update was applied before update 0")
			}
		}
		check(t, len(held) == 0, seq, len(held), "never applied")
	}
}

// TestTruncationsAndMutations: every proper prefix of a valid update is rejected; byte
// flips either fail with ErrInvalid or parse to something that re-parses identically.
func TestTruncationsAndMutations(t *testing.T) {
	t.Parallel()
	for _, f := range loadFixtures(t) {
		parse := func(b []byte) error {
			if f.Kind == "sv" {
				_, err := ParseStateVector(b, Limits{})
				return err
			}
			_, err := Parse(b, Limits{})
			return err
		}
		step := max(1, len(f.Data)/300)
		for n := 0; n < len(f.Data); n += step {
			err := parse(f.Data[:n])
			invalid(t, err, f.Name, "cut at", n)
		}
		b := make([]byte, len(f.Data))
		for i := 0; i < len(f.Data); i += step {
			for _, x := range []byte{0x01, 0x80, 0xff, 0x7f} {
				copy(b, f.Data)
				b[i] ^= x
				if err := parse(b); err != nil {
					invalid(t, err)
				}
			}
		}
	}
}

// Not parallel: it measures the process-wide allocation counter.
func TestHostileSmallInputs(t *testing.T) {
	big := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f} // 2^53-1
	cases := map[string][]byte{
		"huge client count":       append([]byte{}, big...),
		"huge struct count":       append([]byte{1}, big...),
		"huge string":             append([]byte{1, 1, 1, 0, 4, 1}, big...),
		"huge any count":          append([]byte{1, 1, 1, 0, 8, 1, 1, 0x61}, big...),
		"huge any array":          append([]byte{1, 1, 1, 0, 8, 1, 1, 0x61, 1, 117}, big...),
		"huge deleted length ok?": {1, 1, 1, 0, 1, 1, 1, 0x61, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f, 0},
		"huge delete clients":     append([]byte{0}, big...),
		"huge delete ranges":      append([]byte{0, 1, 1}, big...),
		"varint over 53 bits":     {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
		"unterminated varint":     {0x80, 0x80, 0x80},
		"huge binary":             append([]byte{1, 1, 1, 0, 3, 1, 1, 0x61}, big...),
		"huge gc length overflow": {1, 2, 1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f, 0, 1, 0},
		"unknown content ref":     {1, 1, 1, 0, 11, 0},
		"unknown type ref":        {1, 1, 1, 0, 7, 1, 1, 0x61, 7, 0},
		"parent info 2":           {1, 1, 1, 0, 4, 2, 1, 0x61, 0},
		"zero-length gc":          {1, 1, 1, 0, 0, 0, 0},
		"gc with flags":           {1, 1, 1, 0, 0x80, 1, 0},
		"invalid utf-8":           {1, 1, 1, 0, 4, 1, 1, 0x61, 1, 0xc3, 0},
		"embed not JSON":          {1, 1, 1, 0, 5, 1, 1, 0x61, 1, '{', 0},
		"duplicate client":        {2, 1, 1, 0, 0, 1, 1, 1, 5, 0, 1, 0},
		"trailing bytes":          {0, 0, 0},
		"sv huge":                 append([]byte{}, big...),
	}
	deep := []byte{1, 1, 1, 0, 8, 1, 1, 0x61, 1}
	for range 200 {
		deep = append(deep, 117, 1)
	}
	cases["deep any"] = append(deep, 126, 0)
	for name, b := range cases {
		_, err := Parse(b, Limits{})
		if name == "huge deleted length ok?" {
			noErr(t, err, "a long deleted run is legal")
			continue
		}
		invalid(t, err, name)
		t.Logf("%s: %v", name, err)
		// Average over runs: one giant make would show, GC noise would not.
		const runs = 50
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		for range runs {
			_, _ = Parse(b, Limits{})
		}
		runtime.ReadMemStats(&m1)
		perRun := (m1.TotalAlloc - m0.TotalAlloc) / runs
		check(t, perRun < uint64(64*len(b)+4096), name, "allocated", perRun)
		_, err = ParseStateVector(b, Limits{})
		if err != nil {
			invalid(t, err)
		}
	}
}

func TestLimits(t *testing.T) {
	t.Parallel()
	ups := updates(t)
	big := ups["large/0"]
	check(t, len(big) > 0)
	_, err := Parse(big, Limits{MaxBytes: len(big) - 1})
	invalid(t, err)
	_, err = Parse(big, Limits{MaxStringBytes: 1000})
	invalid(t, err)
	_, err = Parse(big, Limits{})
	noErr(t, err)
	state := ups["text/state"]
	u, err := Parse(state, Limits{})
	noErr(t, err)
	_, err = Parse(state, Limits{MaxStructs: 1})
	invalid(t, err)
	check(t, len(u.Structs) > 0)
}

func TestMissingRules(t *testing.T) {
	t.Parallel()
	u := &Update{
		Structs: map[uint64][]Range{1: {{Clock: 5, Len: 5}}},
		Deps:    []ID{{Client: 2, Clock: 3}},
		Deletes: map[uint64][]Range{1: {{Clock: 8, Len: 2}}, 3: {{Clock: 0, Len: 4}}},
	}
	full := map[uint64]uint64{1: 5, 2: 4, 3: 4}
	check(t, !u.Missing(full))
	gap := maps.Clone(full)
	gap[1] = 4
	check(t, u.Missing(gap), "structs start after the state")
	dep := maps.Clone(full)
	dep[2] = 3
	check(t, u.Missing(dep), "origin not present")
	del := maps.Clone(full)
	del[3] = 3
	check(t, u.Missing(del), "delete beyond the state")
	ahead := maps.Clone(full)
	ahead[1] = 100
	check(t, !u.Missing(ahead), "already known structs are fine")
}

func TestErrorMessage(t *testing.T) {
	t.Parallel()
	_, err := Parse([]byte{1, 1, 1, 0, 11, 1, 1, 0x61, 0}, Limits{})
	invalid(t, err)
	equal(t, "yupdate: invalid Yjs v1 data: unknown content ref 11 at offset 4", err.Error())
	// A repeated client, among the structs and in the delete set.
	_, err = Parse([]byte{2, 1, 1, 0, 0, 1, 1, 1, 5, 0, 1, 0}, Limits{})
	invalid(t, err)
	equal(t, "yupdate: invalid Yjs v1 data: client 1 listed twice at offset 7", err.Error())
	_, err = Parse([]byte{0, 2, 1, 1, 0, 1, 1, 1, 0, 1}, Limits{})
	invalid(t, err)
	equal(t, "yupdate: invalid Yjs v1 data: delete set lists client 1 twice at offset 6", err.Error())
}

func FuzzParse(f *testing.F) {
	for _, fx := range loadFixtures(f) {
		if fx.Kind == "update" && len(fx.Data) < 4096 {
			f.Add(fx.Data)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		u, err := Parse(b, Limits{})
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		again, err := Parse(b, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		equal(t, u, again)
		for _, rs := range u.Structs {
			for i, r := range rs {
				if r.Len == 0 || r.End() > maxUint53 || (i > 0 && rs[i-1].End() >= r.Clock) {
					t.Fatalf("bad struct ranges %v", rs)
				}
			}
		}
		for i, d := range u.Deps {
			if i > 0 && !(u.Deps[i-1].Client < d.Client || u.Deps[i-1].Client == d.Client && u.Deps[i-1].Clock < d.Clock) {
				t.Fatalf("deps not sorted and unique: %v", u.Deps)
			}
		}
		// With everything already present, nothing can be missing.
		all := map[uint64]uint64{}
		for _, d := range u.Deps {
			all[d.Client] = max(all[d.Client], d.Clock+1)
		}
		for c, rs := range u.Deletes {
			for _, r := range rs {
				all[c] = max(all[c], r.End())
			}
		}
		for c, rs := range u.Structs {
			all[c] = max(all[c], rs[len(rs)-1].End())
		}
		if u.Missing(all) {
			t.Fatal("missing against a complete state vector")
		}
	})
}

func FuzzParseStateVector(f *testing.F) {
	for _, fx := range loadFixtures(f) {
		if fx.Kind == "sv" {
			f.Add(fx.Data)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		sv, err := ParseStateVector(b, Limits{})
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		if len(sv) > len(b)/2 {
			t.Fatalf("%d clients from %d bytes", len(sv), len(b))
		}
	})
}
