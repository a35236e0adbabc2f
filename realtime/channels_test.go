package realtime_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/internal/nodetest"
	"github.com/quire/quire/realtime"
	"github.com/quire/quire/storage"
)

// script runs a node test script that reads a step per stdin line and
// answers each with a JSON line (after a first {"ready":true}).
func script(t *testing.T, name string, args ...string) func(step string) map[string]any {
	t.Helper()
	s := nodetest.Start(t, filepath.Join("testdata", name), args...)
	s.Ready()
	return s.Step
}

// seen is what one socket received on events:channel, as channels.mjs
// prints it.
func seen(t *testing.T, got map[string]any, i int) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, e := range got["seen"].([]any)[i].([]any) {
		out = append(out, e.(map[string]any))
	}
	return out
}

// join-channels enters the rooms of a private channel for its members
// only; typing reaches the room but the sender, with the sender's name;
// last_read_at marks the channel read for a member and nobody hears of
// it; a socket outside the room can neither type there nor mark it read.
// JoinChannel puts a new member's live socket into the room at once (with
// channel:created to its account), LeaveChannel takes it out again.
func TestChannelSockets(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	owner, reader, stranger := b.users["owner"], b.users["reader"], b.users["stranger"]
	ch := b.privateGroup(t, "g",
		storage.ChannelMember{UserID: owner.ID, Role: storage.MemberManager}, storage.ChannelMember{UserID: reader.ID})

	step := script(t, "channels.mjs", b.url, ch.ID, b.tokens["owner"], b.tokens["reader"], b.tokens["stranger"])
	got := step("join")
	for i := range 3 {
		require.Equal(t, map[string]any{"ok": true}, got["acks"].([]any)[i])
	}

	got = step("typing")
	require.Equal(t, map[string]any{"ok": true}, got["a"])
	require.Equal(t, map[string]any{"ok": false, "error": "not_joined"}, got["c"], "a non-member is not in the room")
	require.Equal(t, map[string]any{"ok": false, "error": "not_joined"}, got["cRead"])
	require.Equal(t, map[string]any{"ok": true}, got["bRead"])
	for i, bad := range got["bad"].([]any) {
		require.Equal(t, map[string]any{"ok": false, "error": "invalid_payload"}, bad, "bad payload %d", i)
	}
	require.Empty(t, seen(t, got, 0), "the typer does not hear itself")
	require.Equal(t, []map[string]any{{"channel_id": ch.ID, "message_id": nil, "type": "typing",
		"data": map[string]any{"typing": true}, "user": owner.ID, "channel": nil}}, seen(t, got, 1))
	require.Empty(t, seen(t, got, 2), "a non-member hears nothing")
	m, err := b.store.GetChannelMember(ctx, ch.ID, reader.ID)
	require.NoError(t, err)
	require.NotZero(t, m.LastReadAt, "last_read_at was stored")
	m, err = b.store.GetChannelMember(ctx, ch.ID, owner.ID)
	require.NoError(t, err)
	require.Zero(t, m.LastReadAt, "only the reader's")

	// A new member's socket is in the room as soon as JoinChannel returns.
	require.NoError(t, b.store.AddChannelMembers(ctx, ch.ID, []storage.ChannelMember{{UserID: stranger.ID}}))
	b.srv.JoinChannel(ch.ID, []string{stranger.ID})
	b.srv.EmitChannel(ch.ID, []byte(`{"channel_id":"`+ch.ID+`","message_id":"m1","data":{"type":"message","data":{}}}`), owner.ID)
	got = step("show")
	c := seen(t, got, 2)
	require.Len(t, c, 2, "%v", c)
	require.Equal(t, "channel:created", c[0]["type"])
	require.Nil(t, c[0]["channel_id"], "channel:created carries only data")
	require.Equal(t, "message", c[1]["type"])
	require.Len(t, seen(t, got, 1), 2, "the reader got the message too")

	// Removed: the room no longer reaches it; its typing is refused.
	require.NoError(t, b.store.RemoveChannelMembers(ctx, ch.ID, []string{stranger.ID}))
	b.srv.LeaveChannel(ch.ID, []string{stranger.ID})
	b.srv.EmitChannel(ch.ID, []byte(`{"channel_id":"`+ch.ID+`","message_id":"m2","data":{"type":"message","data":{}}}`), owner.ID)
	got = step("typing")
	require.Equal(t, map[string]any{"ok": false, "error": "not_joined"}, got["c"])
	require.Len(t, seen(t, got, 2), 2, "nothing after the removal")
	require.Len(t, seen(t, got, 1), 4, "the reader got m2 and the second typing")

	// Deleted: everyone leaves the room.
	b.srv.LeaveChannel(ch.ID, nil)
	b.srv.EmitChannel(ch.ID, []byte(`{"channel_id":"`+ch.ID+`","message_id":"m3","data":{"type":"message","data":{}}}`), owner.ID)
	got = step("show")
	require.Len(t, seen(t, got, 1), 4, "nothing after the deletion")
}

// Channel fan-out and membership go through the Broker: another instance
// on the same bus sees EmitChannel's message and JoinChannel's command
// with their origin, and its own join-room command and channel message
// reach this instance's socket.
func TestChannelsGoThroughTheBroker(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, peer, rec := setupWithPeer(t)
	owner, stranger := b.users["owner"], b.users["stranger"]
	ch := b.privateGroup(t, "g", storage.ChannelMember{UserID: owner.ID, Role: storage.MemberManager})
	room := "channel:" + ch.ID
	require.NoError(t, peer.Subscribe(ctx, room))

	b.srv.JoinChannel(ch.ID, []string{owner.ID})
	got := rec.WaitCommands(t, 1)[0]
	require.Equal(t, realtime.Command{Kind: realtime.CommandJoinRoom, Room: room, UserIDs: []string{owner.ID},
		Origin: realtime.Origin{Instance: "a"}}, got)
	b.srv.EmitChannel(ch.ID, []byte(`{"x":1}`), owner.ID)
	m := rec.WaitMessages(t, 1)[0]
	require.Equal(t, room, m.Room)
	require.Equal(t, "events:channel", m.Event)
	require.Equal(t, realtime.Origin{Instance: "a", UserID: owner.ID}, m.Origin)

	// The peer moves the stranger's socket (on instance a) into the room,
	// then publishes there: the socket hears it.
	step := script(t, "channels.mjs", b.url, ch.ID, b.tokens["owner"], b.tokens["reader"], b.tokens["stranger"])
	step("join") // acked: the sockets are authenticated, in their user:<id> rooms
	require.NoError(t, peer.Command(ctx, realtime.Command{Kind: realtime.CommandJoinRoom, Room: room, UserIDs: []string{stranger.ID}}))
	require.NoError(t, peer.Publish(ctx, realtime.Message{Room: room, Event: "events:channel",
		Payload: []byte(`{"channel_id":"` + ch.ID + `","message_id":"p","data":{"type":"message","data":{}}}`), Origin: realtime.Origin{Instance: "b"}}))
	out := step("show")
	require.Len(t, seen(t, out, 2), 1, "the stranger's socket joined on the peer's command")
	require.Equal(t, "p", seen(t, out, 2)[0]["message_id"])
	require.Empty(t, seen(t, out, 1), "the reader's socket was not moved")
}

// A member removed while its socket's join-channels is between listing the
// account's channels and joining their rooms does not end up in the room:
// the removal's LeaveRoom found nothing to remove yet, and join-channels
// notices that a leave ran and checks storage again.
func TestJoinChannelsRacingARemoval(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	owner, stranger := b.users["owner"], b.users["stranger"]
	ch := b.privateGroup(t, "g",
		storage.ChannelMember{UserID: owner.ID, Role: storage.MemberManager}, storage.ChannelMember{UserID: stranger.ID})
	var once sync.Once
	realtime.OnJoinChannelsListed(b.srv, func(userID string) {
		if userID != stranger.ID {
			return
		}
		once.Do(func() {
			require.NoError(t, b.store.RemoveChannelMembers(ctx, ch.ID, []string{stranger.ID}))
			b.srv.LeaveChannel(ch.ID, []string{stranger.ID})
		})
	})
	step := script(t, "channels.mjs", b.url, ch.ID, b.tokens["owner"], b.tokens["reader"], b.tokens["stranger"])
	got := step("join")
	for i := range 3 {
		require.Equal(t, map[string]any{"ok": true}, got["acks"].([]any)[i])
	}
	b.srv.EmitChannel(ch.ID, []byte(`{"channel_id":"`+ch.ID+`","message_id":"m","data":{"type":"message","data":{}}}`), owner.ID)
	got = step("show")
	require.Len(t, seen(t, got, 0), 1, "the owner is in the room")
	require.Empty(t, seen(t, got, 2), "the removed member's socket is not")
}

// A channel join for an account's sockets (JoinChannel) that listed a
// socket while it was the account's and joins it after it user-joined as
// another account leaves it out: the switch left the old account's rooms,
// and nothing for the old account may reach the socket afterwards.
func TestJoinChannelRacingUserJoin(t *testing.T) {
	t.Parallel()
	b := setup(t)
	owner, stranger := b.users["owner"], b.users["stranger"]
	ch := b.privateGroup(t, "g",
		storage.ChannelMember{UserID: owner.ID, Role: storage.MemberManager}, storage.ChannelMember{UserID: stranger.ID})
	// 0 is the stranger's socket, 1 the owner's.
	step := script(t, "sockets.mjs", b.url, b.tokens["stranger"], b.tokens["owner"])
	b.srv.JoinChannel(ch.ID, []string{owner.ID})
	var once sync.Once
	switched := false
	realtime.OnJoinLocalListed(b.srv, func(userID string) {
		if userID != stranger.ID {
			return
		}
		once.Do(func() {
			switched = true
			got := step(`["call",0,"user-join",{"auth":{"token":"` + b.tokens["reader"] + `"}}]`)
			require.Equal(t, map[string]any{"ok": true, "id": b.users["reader"].ID, "name": "reader", "role": "user"}, got["ack"])
		})
	})
	b.srv.JoinChannel(ch.ID, []string{stranger.ID})
	require.True(t, switched, "the socket switched between the listing and the join")
	b.srv.EmitChannel(ch.ID, []byte(`{"channel_id":"`+ch.ID+`","message_id":"m","data":{"type":"message","data":{}}}`), owner.ID)
	step(`["wait",1,"events:channel",2]`) // channel:created, then the message
	require.Equal(t, []any{}, step(`["seen",0]`)["events"], "the reader's socket is not in the stranger's channel")
}
