package realtime_test

import (
	"strings"
	"testing"

	"github.com/quire/quire/realtime"
	"github.com/quire/quire/storage"
)

// KeepChannel (a channel made private) takes every socket but the named
// accounts' out of the channel's room: the members' sockets hear what is
// sent to it next, the others' nothing; also when the sockets are on
// another instance (Redis).
func TestKeepChannel(t *testing.T) {
	t.Parallel()
	t.Run("one instance", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		testKeepChannel(t, b, b.url)
	})
	t.Run("sockets on another instance", func(t *testing.T) {
		t.Parallel()
		instance := redisInstances(t, nil)
		b := setup(t, func(c *realtime.Config) { c.Broker, c.Instance = instance("a"), "a" })
		_, peerURL := addInstance(t, b, instance("b"), "b")
		testKeepChannel(t, b, peerURL)
	})
}

func testKeepChannel(t *testing.T, b *testBundle, url string) {
	owner, reader := b.users["owner"], b.users["reader"]
	ch := &storage.Channel{UserID: owner.ID, Name: "town"} // public: join-channels enters every account
	if err := b.store.CreateChannel(t.Context(), ch, []storage.ChannelMember{{UserID: owner.ID, Role: storage.MemberManager}, {UserID: reader.ID}}); err != nil {
		t.Fatal(err)
	}
	names := []string{"owner", "reader", "writer", "stranger"}
	socks := map[string]*sioClient{}
	for _, name := range names {
		socks[name] = dialSIO(t, url, b.tokens[name])
		if ack, _, err := socks[name].emit("join-channels", []byte(`{}`)); err != nil || string(ack) != `{"ok":true}` {
			t.Fatalf("%s join-channels: %s %v", name, ack, err)
		}
	}
	b.srv.KeepChannel(ch.ID, []string{owner.ID, reader.ID})
	b.srv.EmitChannel(ch.ID, []byte(`{"channel_id":"`+ch.ID+`","message_id":"after","data":{"type":"message","data":{}}}`), owner.ID)
	for _, name := range names {
		// Then a marker to the account alone: what came before it is what
		// the channel's room sent.
		if err := b.srv.EmitToUser(b.users[name].ID, "events", []byte(`{"marker":"end"}`)); err != nil {
			t.Fatal(err)
		}
		heard, err := socks[name].until(`"marker":"end"`)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		member := name == "owner" || name == "reader"
		if member && (len(heard) != 1 || !strings.Contains(heard[0], `"message_id":"after"`)) {
			t.Errorf("%s (a member) heard %q, want the message", name, heard)
		}
		if !member && len(heard) != 0 {
			t.Errorf("%s (no member) heard %q, want nothing", name, heard)
		}
	}
}
