package realtime_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/storage"
)

// chatStep runs one step of chats.mjs.
func chatStep(t *testing.T, step func(string) map[string]any, from int, payloads []any, ack bool, wait ...int) (acks []any, seen [][]any) {
	t.Helper()
	b, err := json.Marshal(map[string]any{"from": from, "payloads": payloads, "ack": ack, "wait": wait})
	require.NoError(t, err)
	got := step(string(b))
	acks, _ = got["acks"].([]any)
	for _, s := range got["seen"].([]any) {
		l, _ := s.([]any)
		seen = append(seen, l)
	}
	return acks, seen
}

func readChat(chatID any) map[string]any {
	return map[string]any{"chat_id": chatID, "data": map[string]any{"type": "last_read_at"}}
}

// events:chat last_read_at stores the owner's read position and tells
// every tab of the owner (and nobody else) chat:list with it, whether or
// not the sender asked for an ack; another account's chat, an unknown one
// and bad payloads are refused and change nothing; a temporary chat is
// acknowledged and nothing happens.
func TestChatReadPosition(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	owner, stranger := b.users["owner"], b.users["stranger"]
	mine := &storage.Chat{UserID: owner.ID, Title: "mine", CreatedAt: 100, UpdatedAt: 100}
	theirs := &storage.Chat{UserID: stranger.ID, Title: "theirs", CreatedAt: 100, UpdatedAt: 100}
	require.NoError(t, b.store.CreateChat(ctx, mine))
	require.NoError(t, b.store.CreateChat(ctx, theirs))
	lastRead := func(id string) int64 {
		c, err := b.store.GetChat(ctx, id)
		require.NoError(t, err)
		return c.LastReadAt
	}

	// Two tabs of the owner, one of the stranger.
	step := script(t, "chats.mjs", b.url, b.tokens["owner"], b.tokens["owner"], b.tokens["stranger"])
	before := time.Now().Unix()
	acks, seen := chatStep(t, step, 0, []any{readChat(mine.ID)}, true, 1, 1, 0)
	require.Equal(t, []any{map[string]any{"ok": true}}, acks)
	at := lastRead(mine.ID)
	require.GreaterOrEqual(t, at, before, "stored in Unix seconds")
	require.LessOrEqual(t, at, time.Now().Unix())
	want := map[string]any{"chat_id": mine.ID, "data": map[string]any{"type": "chat:list",
		"data": map[string]any{"chat_id": mine.ID, "last_read_at": float64(at)}}}
	require.Equal(t, []any{want}, seen[0], "the sending tab hears it")
	require.Equal(t, []any{want}, seen[1], "the owner's other tab too")
	require.Empty(t, seen[2], "nobody else")

	// The frontend emits without an ack: the same happens.
	_, seen = chatStep(t, step, 1, []any{readChat(mine.ID)}, false, 2, 2, 0)
	require.Len(t, seen[0], 2)
	require.Equal(t, seen[0], seen[1])
	require.Empty(t, seen[2])
	at = lastRead(mine.ID)

	// Refused: the owner's chat from the stranger, the stranger's from
	// the owner, an unknown chat; a temporary chat is nobody's business.
	acks, _ = chatStep(t, step, 2, []any{readChat(mine.ID)}, true)
	require.Equal(t, []any{map[string]any{"ok": false, "error": "unknown_chat"}}, acks)
	acks, _ = chatStep(t, step, 0, []any{readChat(theirs.ID), readChat("no-such-chat"), readChat("local:abc"), readChat("temporary:abc")}, true)
	require.Equal(t, []any{
		map[string]any{"ok": false, "error": "unknown_chat"},
		map[string]any{"ok": false, "error": "unknown_chat"},
		map[string]any{"ok": true},
		map[string]any{"ok": true},
	}, acks)

	bad := []any{
		"nope", nil, []any{1},
		map[string]any{"chat_id": mine.ID},
		map[string]any{"chat_id": mine.ID, "data": "last_read_at"},
		map[string]any{"chat_id": mine.ID, "data": map[string]any{"type": "shout"}},
		map[string]any{"chat_id": mine.ID, "data": map[string]any{"type": 5}},
		readChat(5), readChat(nil), readChat(""), readChat(strings.Repeat("x", 129)), readChat(strings.Repeat("x", 201)),
	}
	acks, seen = chatStep(t, step, 0, bad, true)
	require.Len(t, acks, len(bad))
	for i, a := range acks {
		require.Equal(t, map[string]any{"ok": false, "error": "invalid_payload"}, a, "bad payload %d: %v", i, bad[i])
	}
	require.Len(t, seen[0], 2, "no refused event was announced")
	require.Len(t, seen[1], 2)
	require.Empty(t, seen[2])
	require.Equal(t, at, lastRead(mine.ID), "nothing refused was stored")
	require.Zero(t, lastRead(theirs.ID))
}

// chat:list goes through the Broker: another instance subscribed to the
// owner's room sees it with its origin.
func TestChatReadGoesThroughTheBroker(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, peer, rec := setupWithPeer(t)
	owner := b.users["owner"]
	chat := &storage.Chat{UserID: owner.ID, Title: "c"}
	require.NoError(t, b.store.CreateChat(ctx, chat))
	room := "user:" + owner.ID
	require.NoError(t, peer.Subscribe(ctx, room))

	step := script(t, "chats.mjs", b.url, b.tokens["owner"])
	acks, _ := chatStep(t, step, 0, []any{readChat(chat.ID)}, true, 1)
	require.Equal(t, []any{map[string]any{"ok": true}}, acks)
	m := rec.WaitMessages(t, 1)[0]
	require.Equal(t, room, m.Room)
	require.Equal(t, "events", m.Event)
	require.Equal(t, "a", m.Origin.Instance)
	require.Equal(t, owner.ID, m.Origin.UserID)
	require.NotEmpty(t, m.Origin.SID)
	var ev struct {
		ChatID string `json:"chat_id"`
		Data   struct {
			Type string `json:"type"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(m.Payload, &ev))
	require.Equal(t, chat.ID, ev.ChatID)
	require.Equal(t, "chat:list", ev.Data.Type)
}
