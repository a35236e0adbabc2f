package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/quiretest"
)

// channel and message are the ChannelModel and MessageModel as clients
// decode them.
type channel struct {
	ID            string         `json:"id"`
	UserID        string         `json:"user_id"`
	Type          *string        `json:"type"`
	Name          string         `json:"name"`
	Description   string         `json:"description"`
	IsPrivate     bool           `json:"is_private"`
	Data          map[string]any `json:"data"`
	UserIDs       []string       `json:"user_ids"`
	UnreadCount   *int           `json:"unread_count"`
	LastMessageAt *int64         `json:"last_message_at"`
}

type message struct {
	ID        string  `json:"id"`
	UserID    string  `json:"user_id"`
	ChannelID string  `json:"channel_id"`
	ParentID  *string `json:"parent_id"`
	Content   string  `json:"content"`
	IsPinned  bool    `json:"is_pinned"`
	PinnedBy  *string `json:"pinned_by"`
	CreatedAt int64   `json:"created_at"`
	User      *struct {
		ID   string `json:"id"`
		Name string `json:"name"`
		Role string `json:"role"`
	} `json:"user"`
	Reactions []struct {
		Name    string   `json:"name"`
		UserIDs []string `json:"user_ids"`
		Count   int      `json:"count"`
	} `json:"reactions"`
	ReplyCount    int    `json:"reply_count"`
	LatestReplyAt *int64 `json:"latest_reply_at"`
	TempID        string `json:"temp_id"`
}

const chans = "/api/v1/channels/"

func createChannel(s *quiretest.Server, token string, body map[string]any) channel {
	var c channel
	s.JSON("POST", chans+"create", token, body, http.StatusOK, &c)
	return c
}

func post(s *quiretest.Server, token, channelID string, body map[string]any) message {
	var m message
	s.JSON("POST", chans+channelID+"/messages/post", token, body, http.StatusOK, &m)
	return m
}

func listChannels(s *quiretest.Server, token string) map[string]channel {
	var l []channel
	s.JSON("GET", chans, token, nil, http.StatusOK, &l)
	out := map[string]channel{}
	for _, c := range l {
		out[c.ID] = c
	}
	return out
}

func messages(s *quiretest.Server, token, channelID, query string) []message {
	var l []message
	s.JSON("GET", chans+channelID+"/messages"+query, token, nil, http.StatusOK, &l)
	return l
}

// A channel's life over REST: create (standard channels are the admins'),
// list with unread counts, messages with a thread, edits, reactions, pins,
// deletes, members and the channel's deletion, each answered in Open
// WebUI's shapes.
func TestChannelsREST(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *quiretest.Server) {
		admin, bob, carol := s.SignUp("Admin"), s.SignUp("Bob"), s.SignUp("Carol")

		r := s.JSON("POST", chans+"create", bob.Token, map[string]any{"name": "general"}, http.StatusForbidden, nil)
		require.NotEmpty(t, r.Detail(), "standard channels are the admins'")

		pub := createChannel(s, admin.Token, map[string]any{"name": "general", "description": "all of us"})
		require.Nil(t, pub.Type, "a standard channel's type is null")
		require.Equal(t, "general", pub.Name)
		require.Equal(t, []string{admin.ID}, pub.UserIDs)
		require.Equal(t, map[string]any{}, pub.Data)

		// Any signed-in user reads and posts in a public channel.
		first := post(s, bob.Token, pub.ID, map[string]any{"content": "hello", "temp_id": "t1"})
		require.Equal(t, "hello", first.Content)
		require.Equal(t, bob.ID, first.User.ID)
		require.Equal(t, "Bob", first.User.Name)
		require.Equal(t, "t1", first.TempID)
		require.Nil(t, first.ParentID)
		reply := post(s, admin.Token, pub.ID, map[string]any{"content": "welcome", "parent_id": first.ID})
		require.Equal(t, first.ID, *reply.ParentID)

		top := messages(s, carol.Token, pub.ID, "")
		require.Len(t, top, 1, "replies are not top-level messages")
		require.Equal(t, 1, top[0].ReplyCount)
		require.Equal(t, reply.CreatedAt, *top[0].LatestReplyAt)
		var thread []message
		s.JSON("GET", chans+pub.ID+"/messages/"+first.ID+"/thread", carol.Token, nil, http.StatusOK, &thread)
		require.Len(t, thread, 2)
		require.Equal(t, []string{reply.ID, first.ID}, []string{thread[0].ID, thread[1].ID}, "replies newest first, then the root")

		// Unread: the admin's counts others' top-level messages.
		l := listChannels(s, admin.Token)
		require.Equal(t, 1, *l[pub.ID].UnreadCount)
		require.Equal(t, reply.CreatedAt, *l[pub.ID].LastMessageAt)

		// Edits: the author only (or an admin).
		s.JSON("POST", chans+pub.ID+"/messages/"+first.ID+"/update", carol.Token, map[string]any{"content": "x"}, http.StatusForbidden, nil)
		var edited message
		s.JSON("POST", chans+pub.ID+"/messages/"+first.ID+"/update", bob.Token, map[string]any{"content": "hello!"}, http.StatusOK, &edited)
		require.Equal(t, "hello!", edited.Content)

		// Reactions, grouped by name.
		for _, tok := range []string{bob.Token, carol.Token} {
			s.JSON("POST", chans+pub.ID+"/messages/"+first.ID+"/reactions/add", tok, map[string]any{"name": "👍"}, http.StatusOK, nil)
		}
		s.JSON("POST", chans+pub.ID+"/messages/"+first.ID+"/reactions/remove", bob.Token, map[string]any{"name": "👍"}, http.StatusOK, nil)
		top = messages(s, bob.Token, pub.ID, "")
		require.Len(t, top[0].Reactions, 1)
		require.Equal(t, []string{carol.ID}, top[0].Reactions[0].UserIDs)
		require.Equal(t, 1, top[0].Reactions[0].Count)

		var pinned message
		s.JSON("POST", chans+pub.ID+"/messages/"+first.ID+"/pin", carol.Token, map[string]any{"is_pinned": true}, http.StatusOK, &pinned)
		require.True(t, pinned.IsPinned)
		require.Equal(t, carol.ID, *pinned.PinnedBy)

		// Paging.
		second := post(s, carol.Token, pub.ID, map[string]any{"content": "second"})
		require.Equal(t, []string{second.ID}, ids(messages(s, bob.Token, pub.ID, "?limit=1")))
		require.Equal(t, []string{first.ID}, ids(messages(s, bob.Token, pub.ID, "?skip=1&limit=1")))

		// Deleting the root takes its thread.
		s.JSON("DELETE", chans+pub.ID+"/messages/"+first.ID+"/delete", carol.Token, nil, http.StatusForbidden, nil)
		s.JSON("DELETE", chans+pub.ID+"/messages/"+first.ID+"/delete", bob.Token, nil, http.StatusOK, nil)
		require.Equal(t, []string{second.ID}, ids(messages(s, bob.Token, pub.ID, "")))
		s.JSON("GET", chans+pub.ID+"/messages/"+reply.ID+"/thread", bob.Token, nil, http.StatusNotFound, nil)

		// Update and delete: managers and admins, not any reader.
		s.JSON("POST", chans+pub.ID+"/update", bob.Token, map[string]any{"name": "mine"}, http.StatusForbidden, nil)
		var upd channel
		s.JSON("POST", chans+pub.ID+"/update", admin.Token, map[string]any{"name": "renamed", "description": "d"}, http.StatusOK, &upd)
		require.Equal(t, "renamed", upd.Name)
		require.Equal(t, "d", upd.Description)
		s.JSON("DELETE", chans+pub.ID+"/delete", bob.Token, nil, http.StatusForbidden, nil)
		s.JSON("DELETE", chans+pub.ID+"/delete", admin.Token, nil, http.StatusOK, nil)
		s.JSON("GET", chans+pub.ID, admin.Token, nil, http.StatusNotFound, nil)
		s.JSON("GET", chans+pub.ID+"/messages", admin.Token, nil, http.StatusNotFound, nil)
	})
}

func ids(l []message) []string {
	out := make([]string, len(l))
	for i, m := range l {
		out[i] = m.ID
	}
	return out
}

// A private channel, a group and a DM are their members' only: a
// non-member gets 403 on the channel, its messages and its members, and
// does not see it listed; members/add and members/remove change that.
// A DM is hidden from its recipient until the first message; opening it
// again answers the same channel.
func TestPrivateChannels(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *quiretest.Server) {
		admin, bob, carol := s.SignUp("Admin"), s.SignUp("Bob"), s.SignUp("Carol")
		priv := createChannel(s, admin.Token, map[string]any{"name": "secret", "is_private": true, "user_ids": []string{bob.ID}})
		group := createChannel(s, bob.Token, map[string]any{"name": "pals", "type": "group"})
		require.Equal(t, "group", *group.Type)
		require.True(t, group.IsPrivate)
		m := post(s, bob.Token, priv.ID, map[string]any{"content": "psst"})

		for _, path := range []string{priv.ID, priv.ID + "/messages", priv.ID + "/messages/" + m.ID + "/thread", group.ID} {
			s.JSON("GET", chans+path, carol.Token, nil, http.StatusForbidden, nil)
		}
		s.JSON("POST", chans+priv.ID+"/messages/post", carol.Token, map[string]any{"content": "hi"}, http.StatusForbidden, nil)
		s.JSON("POST", chans+priv.ID+"/messages/"+m.ID+"/reactions/add", carol.Token, map[string]any{"name": "x"}, http.StatusForbidden, nil)
		s.JSON("GET", chans+group.ID, admin.Token, nil, http.StatusForbidden, nil) // an admin is not in every group
		require.NotContains(t, listChannels(s, carol.Token), priv.ID)
		require.NotContains(t, listChannels(s, carol.Token), group.ID)
		require.Contains(t, listChannels(s, bob.Token), priv.ID)

		// A member who is not a manager cannot change the members.
		s.JSON("POST", chans+priv.ID+"/members/add", bob.Token, map[string]any{"user_ids": []string{carol.ID}}, http.StatusForbidden, nil)
		var c channel
		s.JSON("POST", chans+group.ID+"/members/add", bob.Token, map[string]any{"user_ids": []string{carol.ID}}, http.StatusOK, &c)
		require.ElementsMatch(t, []string{bob.ID, carol.ID}, c.UserIDs)
		require.Len(t, messages(s, carol.Token, group.ID, ""), 0)
		s.JSON("POST", chans+group.ID+"/members/remove", bob.Token, map[string]any{"user_ids": []string{carol.ID}}, http.StatusOK, nil)
		s.JSON("GET", chans+group.ID+"/messages", carol.Token, nil, http.StatusForbidden, nil)

		dm := createChannel(s, bob.Token, map[string]any{"type": "dm", "user_ids": []string{carol.ID}})
		require.Equal(t, "dm", *dm.Type)
		require.NotContains(t, listChannels(s, carol.Token), dm.ID, "an empty DM is hidden from its recipient")
		require.Contains(t, listChannels(s, bob.Token), dm.ID)
		again := createChannel(s, carol.Token, map[string]any{"type": "dm", "user_ids": []string{bob.ID}})
		require.Equal(t, dm.ID, again.ID, "opening a DM again answers the same one")
		post(s, bob.Token, dm.ID, map[string]any{"content": "hey"})
		require.Equal(t, 1, *listChannels(s, carol.Token)[dm.ID].UnreadCount)
		s.JSON("GET", chans+dm.ID+"/messages", admin.Token, nil, http.StatusForbidden, nil)
		s.JSON("POST", chans+dm.ID+"/members/add", bob.Token, map[string]any{"user_ids": []string{admin.ID}}, http.StatusBadRequest, nil)
	})
}

// Bad input gets a clear 4xx and changes nothing: oversize content is
// 413, wrong shapes 400, unknown ids 404, and the channel's messages are
// as before.
func TestChannelsBadInput(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *quiretest.Server) {
		admin, bob := s.SignUp("Admin"), s.SignUp("Bob")
		ch := createChannel(s, admin.Token, map[string]any{"name": "c"})
		m := post(s, admin.Token, ch.ID, map[string]any{"content": "kept"})
		big := strings.Repeat("a", 64<<10+1)
		mpath := chans + ch.ID + "/messages/" + m.ID

		for _, tc := range []struct {
			method, path string
			body         any
			want         int
		}{
			{"POST", chans + ch.ID + "/messages/post", map[string]any{"content": big}, http.StatusRequestEntityTooLarge},
			{"POST", mpath + "/update", map[string]any{"content": big}, http.StatusRequestEntityTooLarge},
			{"POST", chans + ch.ID + "/messages/post", map[string]any{"content": strings.Repeat("a", 1<<20)}, http.StatusRequestEntityTooLarge},
			{"POST", chans + ch.ID + "/messages/post", map[string]any{}, http.StatusBadRequest},
			{"POST", chans + ch.ID + "/messages/post", map[string]any{"content": 5}, http.StatusBadRequest},
			{"POST", chans + ch.ID + "/messages/post", map[string]any{"content": "x", "data": []int{1}}, http.StatusBadRequest},
			{"POST", chans + ch.ID + "/messages/post", map[string]any{"content": "a\x00b"}, http.StatusBadRequest},
			{"POST", chans + ch.ID + "/messages/post", "{not json", http.StatusBadRequest},
			{"POST", chans + ch.ID + "/messages/post", map[string]any{"content": "x", "parent_id": "nope"}, http.StatusNotFound},
			{"POST", chans + "nope/messages/post", map[string]any{"content": "x"}, http.StatusNotFound},
			{"POST", chans + ch.ID + "/messages/nope/update", map[string]any{"content": "x"}, http.StatusNotFound},
			{"POST", mpath + "/reactions/add", map[string]any{"name": ""}, http.StatusBadRequest},
			{"POST", mpath + "/reactions/add", map[string]any{"name": []string{"x"}}, http.StatusBadRequest},
			{"POST", mpath + "/pin", map[string]any{}, http.StatusBadRequest},
			{"POST", mpath + "/pin", map[string]any{"is_pinned": "yes"}, http.StatusBadRequest},
			{"GET", chans + ch.ID + "/messages?limit=-1", nil, http.StatusBadRequest},
			{"GET", chans + ch.ID + "/messages?skip=x", nil, http.StatusBadRequest},
			{"POST", chans + "create", map[string]any{"name": ""}, http.StatusBadRequest},
			{"POST", chans + "create", map[string]any{"name": "x", "type": "weird"}, http.StatusBadRequest},
			{"POST", chans + "create", map[string]any{"name": "x", "type": "group", "user_ids": []string{"no-such-user"}}, http.StatusNotFound},
			{"POST", chans + "create", map[string]any{"type": "dm", "user_ids": []string{}}, http.StatusBadRequest},
			{"POST", chans + "create", map[string]any{"name": strings.Repeat("n", 200)}, http.StatusBadRequest},
			{"POST", chans + ch.ID + "/members/add", map[string]any{"user_ids": "x"}, http.StatusBadRequest},
			{"POST", chans + ch.ID + "/members/add", map[string]any{"user_ids": []string{bob.ID, "no-such-user"}}, http.StatusNotFound},
			{"POST", chans + ch.ID + "/update", map[string]any{"name": 1}, http.StatusBadRequest},
		} {
			r := s.Do(tc.method, tc.path, admin.Token, tc.body)
			require.Equal(t, tc.want, r.Status, "%s %s: %s", tc.method, tc.path, r.Body)
			require.NotEmpty(t, r.Detail(), "%s %s: a clear detail", tc.method, tc.path)
		}
		s.JSON("GET", chans, "", nil, http.StatusUnauthorized, nil)

		got := messages(s, admin.Token, ch.ID, "")
		require.Len(t, got, 1)
		require.Equal(t, "kept", got[0].Content)
		require.Empty(t, got[0].Reactions)
		require.False(t, got[0].IsPinned)
		var c channel
		s.JSON("GET", chans+ch.ID, admin.Token, nil, http.StatusOK, &c)
		require.Equal(t, []string{admin.ID}, c.UserIDs, "a failed members/add adds no one")
		require.Len(t, listChannels(s, admin.Token), 1, "no channel was created by a refused request")
	})
}

// TestPendingAccountHasNoChannels: an account whose role went back to
// pending reads, posts and changes nothing over the channel routes, not
// even in the group it is a member of, or a public channel: 403 with the
// pending message everywhere.
func TestPendingAccountHasNoChannels(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *quiretest.Server) {
		admin, pat := s.SignUp("Admin"), s.SignUp("Pat")
		public := createChannel(s, admin.Token, map[string]any{"name": "general"})
		group := createChannel(s, pat.Token, map[string]any{"name": "pats", "type": "group", "user_ids": []string{admin.ID}})
		msg := post(s, admin.Token, group.ID, map[string]any{"content": "hello"})
		s.JSON("POST", "/api/v1/users/"+pat.ID+"/update/role", admin.Token, map[string]string{"role": "pending"}, http.StatusOK, nil)
		tok := s.SignIn(pat.Email)
		for _, id := range []string{public.ID, group.ID} {
			for _, c := range []struct{ method, path string }{
				{"GET", chans},
				{"POST", chans + "create"},
				{"GET", chans + id},
				{"POST", chans + id + "/update"},
				{"DELETE", chans + id + "/delete"},
				{"POST", chans + id + "/members/add"},
				{"POST", chans + id + "/members/remove"},
				{"GET", chans + id + "/messages"},
				{"POST", chans + id + "/messages/post"},
				{"GET", chans + id + "/messages/" + msg.ID + "/thread"},
				{"POST", chans + id + "/messages/" + msg.ID + "/update"},
				{"DELETE", chans + id + "/messages/" + msg.ID + "/delete"},
				{"POST", chans + id + "/messages/" + msg.ID + "/reactions/add"},
				{"POST", chans + id + "/messages/" + msg.ID + "/pin"},
			} {
				var body any
				if c.method == "POST" {
					body = map[string]any{"name": "x", "content": "x", "user_ids": []string{pat.ID}}
				}
				r := s.Do(c.method, c.path, tok, body)
				require.Equal(t, http.StatusForbidden, r.Status, "%s %s: %.200s", c.method, c.path, r.Body)
				require.Equal(t, "Your account is awaiting an administrator's approval", r.Detail(), "%s %s", c.method, c.path)
			}
		}
		require.Len(t, messages(s, admin.Token, group.ID, ""), 1, "the pending account changed the group")
	})
}
