package realtime

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// joinedDocs answers as the map it replaced, below, at and above joinedFew
// entries, whatever the order of joins, rejoins and leaves.
func TestJoinedDocsAgreesWithMap(t *testing.T) {
	t.Parallel()
	for seed := range uint64(50) {
		r := rand.New(rand.NewPCG(seed, 1))
		var j joinedDocs
		model := map[string]docAccess{}
		ids := make([]string, 3*joinedFew)
		for i := range ids {
			ids[i] = fmt.Sprintf("note:%d", i)
		}
		for step := range 400 {
			id := ids[r.IntN(len(ids))]
			switch r.IntN(3) {
			case 0, 1:
				a := docAccess{epoch: uint64(step), perm: perm(r.IntN(3))}
				j.set(id, a)
				model[id] = a
			case 2:
				j.del(id)
				delete(model, id)
			}
			if j.len() != len(model) {
				t.Fatalf("seed %d step %d: len %d, want %d", seed, step, j.len(), len(model))
			}
			for _, id := range ids {
				got, ok := j.get(id)
				want, wok := model[id]
				if ok != wok || got != want || j.has(id) != wok {
					t.Fatalf("seed %d step %d: get(%s) = %v %v, want %v %v", seed, step, id, got, ok, want, wok)
				}
			}
			got := j.ids()
			slices.Sort(got)
			want := make([]string, 0, len(model))
			for id := range model {
				want = append(want, id)
			}
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("seed %d step %d: ids %v, want %v", seed, step, got, want)
			}
		}
	}
}

// Leaving while walking ids() (conn.cleanup) leaves every document once.
func TestJoinedDocsLeaveWhileWalking(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, joinedFew, joinedFew + 3} {
		var j joinedDocs
		for i := range n {
			j.set(fmt.Sprintf("note:%d", i), docAccess{})
		}
		left := 0
		for _, id := range j.ids() {
			if !j.has(id) {
				t.Fatalf("n=%d: %s already gone", n, id)
			}
			j.del(id)
			left++
		}
		if left != n || j.len() != 0 {
			t.Fatalf("n=%d: left %d, %d still joined", n, left, j.len())
		}
	}
}
