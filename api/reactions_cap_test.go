package api_test

import (
	"net/http"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/api"
	"github.com/quire/quire/quiretest"
)

// TestReactionNamesPerMessageCapped: a message takes MaxReactionNames
// different reactions; one more is refused with a detail and not stored,
// while anyone may still add one of those already there. Without the cap
// one account could add any number, and every page of messages carries
// them all.
func TestReactionNamesPerMessageCapped(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *quiretest.Server) {
		s.SignUp("Admin")
		bob, carol := s.SignUp("Bob"), s.SignUp("Carol")
		ch := createChannel(s, bob.Token, map[string]any{"type": "group", "name": "g", "user_ids": []string{carol.ID}})
		m := post(s, bob.Token, ch.ID, map[string]any{"content": "hi"})
		react := chans + ch.ID + "/messages/" + m.ID + "/reactions/add"
		for i := range api.MaxReactionNames {
			s.JSON("POST", react, bob.Token, map[string]any{"name": "r" + strconv.Itoa(i)}, http.StatusOK, nil)
		}
		r := s.Do("POST", react, bob.Token, map[string]any{"name": "one more"})
		require.Equal(t, http.StatusBadRequest, r.Status, "%s", r.Body)
		require.NotEmpty(t, r.Detail())
		s.JSON("POST", react, carol.Token, map[string]any{"name": "r5"}, http.StatusOK, nil)
		s.JSON("POST", react, bob.Token, map[string]any{"name": "r0"}, http.StatusOK, nil)

		list := messages(s, carol.Token, ch.ID, "")
		require.Len(t, list, 1)
		require.Len(t, list[0].Reactions, api.MaxReactionNames)
		for _, re := range list[0].Reactions {
			require.NotEqual(t, "one more", re.Name)
			if re.Name == "r5" {
				require.Equal(t, 2, re.Count)
			}
		}
	})
}

// TestReactionCapHoldsForRacingAdds: adds racing for the last places of
// the cap do not pass it together (the check and the insert are one step
// in the store); each refused one gets 400.
func TestReactionCapHoldsForRacingAdds(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *quiretest.Server) {
		s.SignUp("Admin")
		bob := s.SignUp("Bob")
		ch := createChannel(s, bob.Token, map[string]any{"type": "group", "name": "g"})
		m := post(s, bob.Token, ch.ID, map[string]any{"content": "hi"})
		react := chans + ch.ID + "/messages/" + m.ID + "/reactions/add"
		for i := range api.MaxReactionNames - 2 {
			s.JSON("POST", react, bob.Token, map[string]any{"name": "r" + strconv.Itoa(i)}, http.StatusOK, nil)
		}
		const racers = 16
		status := make([]int, racers)
		var wg sync.WaitGroup
		for i := range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				status[i] = s.Do("POST", react, bob.Token, map[string]any{"name": "race" + strconv.Itoa(i)}).Status
			}()
		}
		wg.Wait()
		okCount := 0
		for _, st := range status {
			if st == http.StatusOK {
				okCount++
			} else {
				require.Equal(t, http.StatusBadRequest, st)
			}
		}
		require.Equal(t, 2, okCount)
		list := messages(s, bob.Token, ch.ID, "")
		require.Len(t, list[0].Reactions, api.MaxReactionNames)
	})
}
