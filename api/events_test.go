package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/quiretest"
)

// POST /api/v1/events/emit: an admin or a service token (quire token)
// pushes an event to an account's sockets or a channel's room; anyone else
// is refused, an unknown target is 404, a bad shape 400, and none of them
// sends anything.
func TestEventsEmit(t *testing.T) {
	t.Parallel()
	s := quiretest.New(t)
	admin, bob, carol := s.SignUp("Admin"), s.SignUp("Bob"), s.SignUp("Carol")
	ctx := context.Background()
	cu, err := s.Store().GetUser(ctx, carol.ID)
	require.NoError(t, err)
	service, err := s.Server.Auth().IssueService(ctx, cu)
	require.NoError(t, err)
	var ch struct {
		ID string `json:"id"`
	}
	s.JSON("POST", "/api/v1/channels/create", admin.Token, map[string]any{"name": "ops", "is_private": true, "user_ids": []string{bob.ID}}, http.StatusOK, &ch)

	step := sockets(t, s, bob.Token, carol.Token)
	require.Equal(t, map[string]any{"ok": true}, step("join 0")["ack"])
	note := map[string]any{"type": "notification", "data": map[string]any{"type": "info", "content": "deploy done"}}
	emit := func(tok string, body any) quiretest.Response { return s.Do("POST", "/api/v1/events/emit", tok, body) }

	// Refused, whatever the body: not an admin, not a service token.
	for _, tok := range []string{bob.Token, carol.Token} {
		r := emit(tok, map[string]any{"user_id": bob.ID, "data": note})
		require.Equal(t, http.StatusForbidden, r.Status, "%s", r.Body)
	}
	require.Equal(t, http.StatusUnauthorized, emit("", map[string]any{"user_id": bob.ID, "data": note}).Status)
	for _, c := range []struct {
		body   any
		status int
		detail string
	}{
		{map[string]any{"user_id": "no-such-user", "data": note}, 404, "User not found"},
		{map[string]any{"channel_id": "no-such-channel", "data": note}, 404, "Channel not found"},
		{map[string]any{"chat_id": "no-such-chat", "data": note}, 404, "Chat not found"},
		{map[string]any{"data": note}, 400, "give exactly one of user_id, channel_id and chat_id"},
		{map[string]any{"user_id": bob.ID, "channel_id": ch.ID, "data": note}, 400, "give exactly one of user_id, channel_id and chat_id"},
		{map[string]any{"user_id": 7, "data": note}, 400, `field "user_id" must be a string`},
		{map[string]any{"user_id": "", "data": note}, 400, "user_id, channel_id and chat_id must be ids (1-128 printable characters)"},
		{map[string]any{"user_id": bob.ID}, 400, "data must be an object {type, data} with type a non-empty string of at most 128 bytes"},
		{map[string]any{"user_id": bob.ID, "data": "hi"}, 400, "data must be an object {type, data} with type a non-empty string of at most 128 bytes"},
		{map[string]any{"user_id": bob.ID, "data": map[string]any{"data": 1}}, 400, "data must be an object {type, data} with type a non-empty string of at most 128 bytes"},
		{map[string]any{"user_id": bob.ID, "data": map[string]any{"type": 5}}, 400, "data must be an object {type, data} with type a non-empty string of at most 128 bytes"},
		{map[string]any{"user_id": bob.ID, "data": map[string]any{"type": strings.Repeat("t", 129)}}, 400, "data must be an object {type, data} with type a non-empty string of at most 128 bytes"},
		{map[string]any{"user_id": bob.ID, "event": "ydoc:document:update", "data": note}, 400, `event must be "events" (or "events:channel" with channel_id)`},
		{map[string]any{"user_id": bob.ID, "event": "events:channel", "data": note}, 400, `event must be "events" (or "events:channel" with channel_id)`},
		{map[string]any{"user_id": bob.ID, "message_id": 3, "data": note}, 400, `field "message_id" must be a string`},
		{`{"user_id":`, 400, "request body is not valid JSON"},
		{`[]`, 400, "request body must be a JSON object"},
		{`{"user_id":"` + bob.ID + `","data":{"type":"x","data":"` + strings.Repeat("x", 1<<20) + `"}}`, 413, ""},
	} {
		r := emit(admin.Token, c.body)
		require.Equal(t, c.status, r.Status, "%v: %s", c.body, r.Body)
		if c.detail != "" {
			require.Equal(t, c.detail, r.Detail(), "%v", c.body)
		}
	}
	req, err := http.NewRequest("POST", s.URL+"/api/v1/events/emit", strings.NewReader(`{"user_id":"`+bob.ID+`","data":{"type":"x"}}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+admin.Token)
	req.Header.Set("Content-Type", "text/plain")
	resp, err := s.Client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnsupportedMediaType, resp.StatusCode)
	require.Empty(t, eventsOf(t, step, 0, ""), "nothing reached Bob")

	// Sent: by an admin and by a service token, to the account and to the
	// channel's room (as events:channel or events).
	ok := func(tok string, body map[string]any) {
		t.Helper()
		r := s.JSON("POST", "/api/v1/events/emit", tok, body, http.StatusOK, nil)
		require.JSONEq(t, `{"status": true}`, string(r.Body))
	}
	ok(admin.Token, map[string]any{"user_id": bob.ID, "data": note})
	ok(service, map[string]any{"user_id": bob.ID, "message_id": "m1", "event": "events", "data": map[string]any{"type": "chat:reload"}})
	ok(admin.Token, map[string]any{"channel_id": ch.ID, "event": "events:channel", "data": map[string]any{"type": "message:update", "data": map[string]any{"id": "x"}}})
	ok(service, map[string]any{"channel_id": ch.ID, "message_id": "m2", "data": note})

	var got []map[string]any
	raw, err := json.Marshal(step("events 0")["events"])
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &got))
	require.Equal(t, []map[string]any{
		{"name": "events", "payload": map[string]any{"data": note}},
		{"name": "events", "payload": map[string]any{"message_id": "m1", "data": map[string]any{"type": "chat:reload"}}},
		{"name": "events:channel", "payload": map[string]any{"channel_id": ch.ID, "message_id": nil,
			"data": map[string]any{"type": "message:update", "data": map[string]any{"id": "x"}}}},
		{"name": "events", "payload": map[string]any{"channel_id": ch.ID, "message_id": "m2", "data": note}},
	}, got)
	require.Empty(t, eventsOf(t, step, 1, ""), "Carol is in neither room")
	require.Zero(t, s.InternalErrors())
}
