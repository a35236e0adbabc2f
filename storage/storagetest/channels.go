package storagetest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/quire/quire/storage"
)

// Channels: channels, members, unread counts, DMs, messages with threads,
// pins and reactions.

func testChannels(t *testing.T, b *bundle) {
	t.Run("CreateAndGet", func(t *testing.T) { t.Parallel(); testCreateChannel(t, b) })
	t.Run("ListAndUnread", func(t *testing.T) { t.Parallel(); testListChannels(t, b) })
	t.Run("UpdateDelete", func(t *testing.T) { t.Parallel(); testUpdateDeleteChannel(t, b) })
	t.Run("Members", func(t *testing.T) { t.Parallel(); testChannelMembers(t, b) })
	t.Run("ChannelAccounts", func(t *testing.T) { t.Parallel(); testChannelAccounts(t, b) })
	t.Run("DM", func(t *testing.T) { t.Parallel(); testDM(t, b) })
	t.Run("Messages", func(t *testing.T) { t.Parallel(); testMessages(t, b) })
	t.Run("Threads", func(t *testing.T) { t.Parallel(); testThreads(t, b) })
	t.Run("Pins", func(t *testing.T) { t.Parallel(); testPins(t, b) })
	t.Run("Reactions", func(t *testing.T) { t.Parallel(); testReactions(t, b) })
	t.Run("ReactionCap", func(t *testing.T) { t.Parallel(); testReactionCap(t, b) })
	t.Run("ConcurrentPosts", func(t *testing.T) { t.Parallel(); testConcurrentPosts(t, b) })
}

func member(userID, role string) storage.ChannelMember {
	return storage.ChannelMember{UserID: userID, Role: role}
}

func newChannel(t testing.TB, s storage.Store, typ string, private bool, owner string, others ...string) *storage.Channel {
	t.Helper()
	c := &storage.Channel{UserID: owner, Type: typ, Name: "chan", IsPrivate: private}
	ms := []storage.ChannelMember{member(owner, storage.MemberManager)}
	for _, id := range others {
		ms = append(ms, member(id, storage.MemberMember))
	}
	require.NoError(t, s.CreateChannel(context.Background(), c, ms))
	return c
}

// post stores a message at a given time, so that order does not depend on
// the clock.
func post(t testing.TB, s storage.Store, channelID, userID, parentID string, at int64) *storage.Message {
	t.Helper()
	m := &storage.Message{ChannelID: channelID, UserID: userID, ParentID: parentID, Content: fmt.Sprint("m", at), CreatedAt: at}
	require.NoError(t, s.PostMessage(context.Background(), m))
	return m
}

func listingOf(t testing.TB, s storage.Store, opt storage.ListChannelsOptions, channelID string) *storage.ChannelListing {
	t.Helper()
	ls, err := s.ListChannels(context.Background(), opt)
	require.NoError(t, err)
	for i := range ls {
		if ls[i].ID == channelID {
			return &ls[i]
		}
	}
	return nil
}

func messageIDs[T any](ms []T, id func(T) string) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = id(m)
	}
	return out
}

func threadID(m storage.MessageThread) string { return m.ID }
func msgID(m storage.Message) string          { return m.ID }

func testCreateChannel(t *testing.T, b *bundle) {
	s, ctx := b.store, context.Background()
	owner, other := newUser(t, s, storage.RoleUser), newUser(t, s, storage.RoleUser)

	t.Run("WithMembers", func(t *testing.T) {
		c := &storage.Channel{UserID: owner.ID, Type: storage.ChannelGroup, Name: "team", Description: "d",
			IsPrivate: true, Data: json.RawMessage(`{"a":1}`)}
		// The owner twice: deduplicated, manager kept.
		err := s.CreateChannel(ctx, c, []storage.ChannelMember{member(owner.ID, storage.MemberMember), member(other.ID, ""), member(owner.ID, storage.MemberManager)})
		require.NoError(t, err)
		require.NotEmpty(t, c.ID)
		require.NotZero(t, c.CreatedAt)
		require.Equal(t, c.CreatedAt, c.UpdatedAt)

		got, err := s.GetChannel(ctx, c.ID)
		require.NoError(t, err)
		require.Equal(t, c.ID, got.ID)
		require.Equal(t, storage.ChannelGroup, got.Type)
		require.Equal(t, "team", got.Name)
		require.Equal(t, "d", got.Description)
		require.True(t, got.IsPrivate)
		require.JSONEq(t, `{"a":1}`, string(got.Data))
		require.JSONEq(t, `{}`, string(got.Meta))
		require.Equal(t, c.CreatedAt, got.CreatedAt)

		ms, err := s.ListChannelMembers(ctx, c.ID)
		require.NoError(t, err)
		require.Len(t, ms, 2)
		roles := map[string]string{}
		for _, m := range ms {
			roles[m.UserID] = m.Role
			require.True(t, m.IsActive)
			require.Equal(t, c.CreatedAt, m.JoinedAt)
			require.Zero(t, m.LastReadAt)
		}
		require.Equal(t, map[string]string{owner.ID: storage.MemberManager, other.ID: storage.MemberMember}, roles)
	})

	t.Run("UnknownMemberStoresNothing", func(t *testing.T) {
		c := &storage.Channel{ID: newID(), UserID: owner.ID, Name: "x"}
		err := s.CreateChannel(ctx, c, []storage.ChannelMember{member(owner.ID, storage.MemberManager), member(newID(), "")})
		require.ErrorIs(t, err, storage.ErrNotFound)
		_, err = s.GetChannel(ctx, c.ID)
		require.ErrorIs(t, err, storage.ErrNotFound)
	})

	t.Run("DuplicateID", func(t *testing.T) {
		c := newChannel(t, s, storage.ChannelStandard, false, owner.ID)
		err := s.CreateChannel(ctx, &storage.Channel{ID: c.ID, UserID: owner.ID, Name: "y"}, nil)
		require.ErrorIs(t, err, storage.ErrConflict)
	})

	t.Run("NotFound", func(t *testing.T) {
		_, err := s.GetChannel(ctx, newID())
		require.ErrorIs(t, err, storage.ErrNotFound)
	})
}

func testListChannels(t *testing.T, b *bundle) {
	s, ctx := b.store, context.Background()
	alice, bob, carol := newUser(t, s, storage.RoleUser), newUser(t, s, storage.RoleUser), newUser(t, s, storage.RoleUser)
	public := newChannel(t, s, storage.ChannelStandard, false, alice.ID, bob.ID)
	private := newChannel(t, s, storage.ChannelStandard, true, alice.ID, bob.ID)

	t.Run("PrivateOnlyToMembers", func(t *testing.T) {
		// carol is in neither channel: the public one shows only with
		// IncludePublic, the private one never (except All).
		require.Nil(t, listingOf(t, s, storage.ListChannelsOptions{UserID: carol.ID}, public.ID))
		pub := listingOf(t, s, storage.ListChannelsOptions{UserID: carol.ID, IncludePublic: true}, public.ID)
		require.NotNil(t, pub)
		require.Nil(t, pub.Member)
		require.Nil(t, listingOf(t, s, storage.ListChannelsOptions{UserID: carol.ID, IncludePublic: true}, private.ID))
		require.NotNil(t, listingOf(t, s, storage.ListChannelsOptions{UserID: carol.ID, All: true}, private.ID))

		l := listingOf(t, s, storage.ListChannelsOptions{UserID: bob.ID}, private.ID)
		require.NotNil(t, l)
		require.NotNil(t, l.Member)
		require.Equal(t, storage.MemberMember, l.Member.Role)
		require.True(t, l.Channel.IsPrivate)
		// With IncludePublic a member still sees its private channel, and
		// its membership on the public one.
		both := storage.ListChannelsOptions{UserID: bob.ID, IncludePublic: true}
		require.NotNil(t, listingOf(t, s, both, private.ID))
		require.NotNil(t, listingOf(t, s, both, public.ID).Member)
	})

	t.Run("UnreadCounts", func(t *testing.T) {
		c := newChannel(t, s, storage.ChannelGroup, true, alice.ID, bob.ID)
		l := listingOf(t, s, storage.ListChannelsOptions{UserID: bob.ID}, c.ID)
		require.Zero(t, l.UnreadCount)
		require.Zero(t, l.LastMessageAt)

		m1 := post(t, s, c.ID, alice.ID, "", 1000)
		post(t, s, c.ID, alice.ID, "", 2000)
		post(t, s, c.ID, bob.ID, "", 2500)               // bob's own: not unread for bob
		reply := post(t, s, c.ID, alice.ID, m1.ID, 2700) // a reply: not counted, as Open WebUI

		l = listingOf(t, s, storage.ListChannelsOptions{UserID: bob.ID}, c.ID)
		require.Equal(t, 2, l.UnreadCount)
		require.Equal(t, reply.CreatedAt, l.LastMessageAt, "replies count for last_message_at")
		l = listingOf(t, s, storage.ListChannelsOptions{UserID: alice.ID}, c.ID)
		require.Equal(t, 1, l.UnreadCount)

		// Bob reads up to 1500: only the message at 2000 stays unread.
		require.NoError(t, s.SetLastReadAt(ctx, c.ID, bob.ID, 1500))
		l = listingOf(t, s, storage.ListChannelsOptions{UserID: bob.ID}, c.ID)
		require.Equal(t, 1, l.UnreadCount)
		require.Equal(t, int64(1500), l.Member.LastReadAt)
		require.NoError(t, s.SetLastReadAt(ctx, c.ID, bob.ID, 3000))
		require.Zero(t, listingOf(t, s, storage.ListChannelsOptions{UserID: bob.ID}, c.ID).UnreadCount)
		post(t, s, c.ID, alice.ID, "", 3001)
		require.Equal(t, 1, listingOf(t, s, storage.ListChannelsOptions{UserID: bob.ID}, c.ID).UnreadCount)
		// Alice's reading is hers alone.
		require.Equal(t, 1, listingOf(t, s, storage.ListChannelsOptions{UserID: alice.ID}, c.ID).UnreadCount)

		err := s.SetLastReadAt(ctx, c.ID, carol.ID, 1)
		require.ErrorIs(t, err, storage.ErrNotFound, "not a member")
	})

	t.Run("Order", func(t *testing.T) {
		u := newUser(t, s, storage.RoleUser)
		var want []string
		for i := range 3 {
			c := &storage.Channel{UserID: u.ID, Name: "o", CreatedAt: int64(10 + i)}
			require.NoError(t, s.CreateChannel(ctx, c, []storage.ChannelMember{member(u.ID, storage.MemberManager)}))
			want = append(want, c.ID)
		}
		ls, err := s.ListChannels(ctx, storage.ListChannelsOptions{UserID: u.ID})
		require.NoError(t, err)
		got := make([]string, len(ls))
		for i, l := range ls {
			got[i] = l.ID
		}
		require.Equal(t, want, got)
	})
}

func testUpdateDeleteChannel(t *testing.T, b *bundle) {
	s, ctx := b.store, context.Background()
	alice, bob := newUser(t, s, storage.RoleUser), newUser(t, s, storage.RoleUser)

	t.Run("Update", func(t *testing.T) {
		c := newChannel(t, s, storage.ChannelStandard, false, alice.ID)
		c.Name, c.Description, c.IsPrivate, c.Meta, c.UpdatedAt = "renamed", "desc", true, json.RawMessage(`{"m":2}`), c.CreatedAt+5
		require.NoError(t, s.UpdateChannel(ctx, c))
		got, err := s.GetChannel(ctx, c.ID)
		require.NoError(t, err)
		require.Equal(t, "renamed", got.Name)
		require.Equal(t, "desc", got.Description)
		require.True(t, got.IsPrivate)
		require.JSONEq(t, `{"m":2}`, string(got.Meta))
		require.Equal(t, c.CreatedAt+5, got.UpdatedAt)

		err = s.UpdateChannel(ctx, &storage.Channel{ID: newID(), Name: "x"})
		require.ErrorIs(t, err, storage.ErrNotFound)
	})

	t.Run("DeleteRemovesMessagesMembersReactions", func(t *testing.T) {
		c := newChannel(t, s, storage.ChannelStandard, false, alice.ID, bob.ID)
		keep := newChannel(t, s, storage.ChannelStandard, false, alice.ID, bob.ID)
		m := post(t, s, c.ID, alice.ID, "", 1)
		r := post(t, s, c.ID, bob.ID, m.ID, 2)
		other := post(t, s, keep.ID, alice.ID, "", 3)
		_, err := s.AddReaction(ctx, m.ID, bob.ID, "+1", 0, 0)
		require.NoError(t, err)
		_, err = s.AddReaction(ctx, other.ID, bob.ID, "+1", 0, 0)
		require.NoError(t, err)

		require.NoError(t, s.DeleteChannel(ctx, c.ID))
		_, err = s.GetChannel(ctx, c.ID)
		require.ErrorIs(t, err, storage.ErrNotFound)
		for _, id := range []string{m.ID, r.ID} {
			_, err = s.GetMessage(ctx, id)
			require.ErrorIs(t, err, storage.ErrNotFound)
		}
		_, err = s.GetChannelMember(ctx, c.ID, bob.ID)
		require.ErrorIs(t, err, storage.ErrNotFound)
		rs, err := s.ListReactions(ctx, []string{m.ID, other.ID})
		require.NoError(t, err)
		require.NotContains(t, rs, m.ID)
		require.Len(t, rs[other.ID], 1, "another channel's reactions stay")
		_, err = s.GetMessage(ctx, other.ID)
		require.NoError(t, err)

		require.ErrorIs(t, s.DeleteChannel(ctx, c.ID), storage.ErrNotFound)
	})
}

// testChannelAccounts: ListChannelAccounts is the channel's members and
// the role's holders, each once, as stored, in ListUsers' order, and
// nobody else. The role is this test's own: other tests add admins.
func testChannelAccounts(t *testing.T, b *bundle) {
	s, ctx := b.store, context.Background()
	role := "auditor-" + newID()
	alice, pending := newUser(t, s, storage.RoleUser), newUser(t, s, storage.RolePending)
	auditor, memberAuditor := newUser(t, s, role), newUser(t, s, role)
	outsider, elsewhere := newUser(t, s, storage.RoleUser), newUser(t, s, storage.RoleUser)
	c := newChannel(t, s, storage.ChannelStandard, true, alice.ID, pending.ID, memberAuditor.ID)
	newChannel(t, s, storage.ChannelGroup, true, elsewhere.ID, outsider.ID)

	ids := func(channelID string) []string {
		t.Helper()
		users, err := s.ListChannelAccounts(ctx, channelID, role)
		require.NoError(t, err)
		out := make([]string, len(users))
		for i, u := range users {
			stored, err := s.GetUser(ctx, u.ID)
			require.NoError(t, err)
			require.Equal(t, *stored, u, "the account as stored")
			out[i] = u.ID
		}
		return out
	}
	byID := func(us ...*storage.User) []string { // newUser's accounts share created_at: ordered by id
		out := make([]string, len(us))
		for i, u := range us {
			out[i] = u.ID
		}
		slices.Sort(out)
		return out
	}
	require.Equal(t, byID(alice, pending, auditor, memberAuditor), ids(c.ID), "members and the role's holders, each once")
	require.Equal(t, byID(auditor, memberAuditor), ids("no-such-channel"), "an unknown channel has no members")
	users, err := s.ListChannelAccounts(ctx, c.ID, "no-such-role-"+newID())
	require.NoError(t, err)
	require.Len(t, users, 3, "the members alone")
}

func testChannelMembers(t *testing.T, b *bundle) {
	s, ctx := b.store, context.Background()
	alice, bob, carol := newUser(t, s, storage.RoleUser), newUser(t, s, storage.RoleUser), newUser(t, s, storage.RoleUser)
	c := newChannel(t, s, storage.ChannelGroup, true, alice.ID)

	m, err := s.GetChannelMember(ctx, c.ID, alice.ID)
	require.NoError(t, err)
	require.Equal(t, storage.MemberManager, m.Role)
	_, err = s.GetChannelMember(ctx, c.ID, bob.ID)
	require.ErrorIs(t, err, storage.ErrNotFound)

	require.NoError(t, s.AddChannelMembers(ctx, c.ID, []storage.ChannelMember{member(bob.ID, ""), member(carol.ID, storage.MemberMember)}))
	m, err = s.GetChannelMember(ctx, c.ID, bob.ID)
	require.NoError(t, err)
	require.Equal(t, storage.MemberMember, m.Role)
	require.True(t, m.IsActive)
	require.NotZero(t, m.JoinedAt)

	// Adding again keeps the existing row (and alice stays manager).
	require.NoError(t, s.SetLastReadAt(ctx, c.ID, bob.ID, 77))
	require.NoError(t, s.AddChannelMembers(ctx, c.ID, []storage.ChannelMember{member(bob.ID, storage.MemberManager), member(alice.ID, "")}))
	m, err = s.GetChannelMember(ctx, c.ID, bob.ID)
	require.NoError(t, err)
	require.Equal(t, storage.MemberMember, m.Role)
	require.Equal(t, int64(77), m.LastReadAt)
	m, err = s.GetChannelMember(ctx, c.ID, alice.ID)
	require.NoError(t, err)
	require.Equal(t, storage.MemberManager, m.Role)

	// An unknown account or channel adds nothing.
	dave := newUser(t, s, storage.RoleUser)
	err = s.AddChannelMembers(ctx, c.ID, []storage.ChannelMember{member(dave.ID, ""), member(newID(), "")})
	require.ErrorIs(t, err, storage.ErrNotFound)
	_, err = s.GetChannelMember(ctx, c.ID, dave.ID)
	require.ErrorIs(t, err, storage.ErrNotFound)
	err = s.AddChannelMembers(ctx, newID(), []storage.ChannelMember{member(dave.ID, "")})
	require.ErrorIs(t, err, storage.ErrNotFound)

	require.NoError(t, s.SetMemberActive(ctx, c.ID, carol.ID, false))
	m, err = s.GetChannelMember(ctx, c.ID, carol.ID)
	require.NoError(t, err)
	require.False(t, m.IsActive)
	require.ErrorIs(t, s.SetMemberActive(ctx, c.ID, dave.ID, true), storage.ErrNotFound)

	msg := post(t, s, c.ID, carol.ID, "", 5)
	require.NoError(t, s.RemoveChannelMembers(ctx, c.ID, []string{carol.ID, dave.ID}))
	_, err = s.GetChannelMember(ctx, c.ID, carol.ID)
	require.ErrorIs(t, err, storage.ErrNotFound)
	_, err = s.GetMessage(ctx, msg.ID)
	require.NoError(t, err, "a removed member's messages stay")
	require.Nil(t, listingOf(t, s, storage.ListChannelsOptions{UserID: carol.ID, IncludePublic: true}, c.ID))

	ms, err := s.ListChannelMembers(ctx, c.ID)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{alice.ID, bob.ID}, messageIDs(ms, func(m storage.ChannelMember) string { return m.UserID }))
}

func testDM(t *testing.T, b *bundle) {
	s, ctx := b.store, context.Background()
	alice, bob, carol := newUser(t, s, storage.RoleUser), newUser(t, s, storage.RoleUser), newUser(t, s, storage.RoleUser)

	_, err := s.FindDM(ctx, alice.ID, bob.ID)
	require.ErrorIs(t, err, storage.ErrNotFound)

	dm := newChannel(t, s, storage.ChannelDM, true, alice.ID, bob.ID)
	for _, pair := range [][2]string{{alice.ID, bob.ID}, {bob.ID, alice.ID}} {
		got, err := s.FindDM(ctx, pair[0], pair[1])
		require.NoError(t, err)
		require.Equal(t, dm.ID, got.ID)
	}
	_, err = s.FindDM(ctx, alice.ID, carol.ID)
	require.ErrorIs(t, err, storage.ErrNotFound)
	_, err = s.FindDM(ctx, alice.ID, alice.ID)
	require.ErrorIs(t, err, storage.ErrNotFound)

	// A group of the same two is not their DM.
	newChannel(t, s, storage.ChannelGroup, true, alice.ID, carol.ID)
	_, err = s.FindDM(ctx, carol.ID, alice.ID)
	require.ErrorIs(t, err, storage.ErrNotFound)

	// A second DM of the same pair, in either order, is a conflict.
	err = s.CreateChannel(ctx, &storage.Channel{UserID: bob.ID, Type: storage.ChannelDM},
		[]storage.ChannelMember{member(bob.ID, storage.MemberManager), member(alice.ID, "")})
	require.ErrorIs(t, err, storage.ErrConflict)

	self := newChannel(t, s, storage.ChannelDM, true, carol.ID)
	got, err := s.FindDM(ctx, carol.ID, carol.ID)
	require.NoError(t, err)
	require.Equal(t, self.ID, got.ID)

	t.Run("Racing", func(t *testing.T) {
		x, y := newUser(t, s, storage.RoleUser), newUser(t, s, storage.RoleUser)
		const n = 6
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				a, b := x.ID, y.ID
				if i%2 == 1 {
					a, b = b, a
				}
				errs[i] = s.CreateChannel(ctx, &storage.Channel{UserID: a, Type: storage.ChannelDM},
					[]storage.ChannelMember{member(a, storage.MemberManager), member(b, "")})
			})
		}
		wg.Wait()
		created := 0
		for _, err := range errs {
			if err == nil {
				created++
			} else {
				require.ErrorIs(t, err, storage.ErrConflict)
			}
		}
		require.Equal(t, 1, created)
		_, err := s.FindDM(ctx, y.ID, x.ID)
		require.NoError(t, err)
	})
}

func testMessages(t *testing.T, b *bundle) {
	s, ctx := b.store, context.Background()
	alice, bob := newUser(t, s, storage.RoleUser), newUser(t, s, storage.RoleUser)
	c := newChannel(t, s, storage.ChannelStandard, false, alice.ID, bob.ID)

	t.Run("PostAndGet", func(t *testing.T) {
		m := &storage.Message{ChannelID: c.ID, UserID: alice.ID, Content: "hello", Meta: json.RawMessage(`{"model_id":"x"}`)}
		require.NoError(t, s.PostMessage(ctx, m))
		require.NotEmpty(t, m.ID)
		require.NotZero(t, m.CreatedAt)
		require.Equal(t, m.CreatedAt, m.UpdatedAt)
		got, err := s.GetMessage(ctx, m.ID)
		require.NoError(t, err)
		require.Equal(t, *m, *got)
		require.JSONEq(t, `{}`, string(got.Data))
		require.Empty(t, got.ParentID)
		require.False(t, got.IsPinned)

		_, err = s.GetMessage(ctx, newID())
		require.ErrorIs(t, err, storage.ErrNotFound)
	})

	t.Run("BadReferences", func(t *testing.T) {
		other := newChannel(t, s, storage.ChannelStandard, false, alice.ID)
		foreign := post(t, s, other.ID, alice.ID, "", 1)
		for name, m := range map[string]*storage.Message{
			"channel":          {ChannelID: newID(), UserID: alice.ID, Content: "x"},
			"account":          {ChannelID: c.ID, UserID: newID(), Content: "x"},
			"parent":           {ChannelID: c.ID, UserID: alice.ID, ParentID: newID(), Content: "x"},
			"parentElsewhere":  {ChannelID: c.ID, UserID: alice.ID, ParentID: foreign.ID, Content: "x"},
			"replyToElsewhere": {ChannelID: c.ID, UserID: alice.ID, ReplyToID: foreign.ID, Content: "x"},
		} {
			m.ID = newID()
			err := s.PostMessage(ctx, m)
			require.ErrorIs(t, err, storage.ErrNotFound, name)
			_, err = s.GetMessage(ctx, m.ID)
			require.ErrorIs(t, err, storage.ErrNotFound, name)
		}
		m := post(t, s, c.ID, alice.ID, "", 1)
		err := s.PostMessage(ctx, &storage.Message{ID: m.ID, ChannelID: c.ID, UserID: alice.ID, Content: "dup"})
		require.ErrorIs(t, err, storage.ErrConflict)
	})

	t.Run("OrderAndPaging", func(t *testing.T) {
		ch := newChannel(t, s, storage.ChannelStandard, false, alice.ID, bob.ID)
		var ids []string
		for i := range 5 {
			ids = append(ids, post(t, s, ch.ID, alice.ID, "", int64(100+i)).ID)
		}
		// Two at the same time: id breaks the tie, descending.
		same := []string{post(t, s, ch.ID, bob.ID, "", 200).ID, post(t, s, ch.ID, bob.ID, "", 200).ID}
		if same[0] < same[1] {
			same[0], same[1] = same[1], same[0]
		}
		post(t, s, ch.ID, bob.ID, ids[0], 300) // a reply: not listed at top level
		want := append(same, ids[4], ids[3], ids[2], ids[1], ids[0])

		all, err := s.ListMessages(ctx, ch.ID, 0, 0)
		require.NoError(t, err)
		require.Equal(t, want, messageIDs(all, threadID))
		page, err := s.ListMessages(ctx, ch.ID, 2, 3)
		require.NoError(t, err)
		require.Equal(t, want[2:5], messageIDs(page, threadID))
		page, err = s.ListMessages(ctx, ch.ID, 6, 3)
		require.NoError(t, err)
		require.Equal(t, want[6:], messageIDs(page, threadID))
		page, err = s.ListMessages(ctx, ch.ID, 10, 3)
		require.NoError(t, err)
		require.Empty(t, page)
	})

	t.Run("Update", func(t *testing.T) {
		m := post(t, s, c.ID, alice.ID, "", 10)
		got, err := s.UpdateMessage(ctx, m.ID, func(m *storage.Message) error {
			m.Content = "edited"
			m.Data = json.RawMessage(`{"files":[]}`)
			return nil
		})
		require.NoError(t, err)
		require.Equal(t, "edited", got.Content)
		require.Greater(t, got.UpdatedAt, m.UpdatedAt)
		read, err := s.GetMessage(ctx, m.ID)
		require.NoError(t, err)
		require.Equal(t, *got, *read)
		require.JSONEq(t, `{"files":[]}`, string(read.Data))

		boom := fmt.Errorf("boom")
		_, err = s.UpdateMessage(ctx, m.ID, func(m *storage.Message) error { m.Content = "lost"; return boom })
		require.Equal(t, boom, err)
		read, err = s.GetMessage(ctx, m.ID)
		require.NoError(t, err)
		require.Equal(t, "edited", read.Content)

		_, err = s.UpdateMessage(ctx, newID(), func(*storage.Message) error { return nil })
		require.ErrorIs(t, err, storage.ErrNotFound)
	})

	t.Run("ConcurrentUpdatersLoseNothing", func(t *testing.T) {
		m := post(t, s, c.ID, alice.ID, "", 15)
		const writers, each = 12, 4
		var wg sync.WaitGroup
		errs := make(chan error, writers*each)
		for range writers {
			wg.Go(func() {
				for range each {
					_, err := s.UpdateMessage(ctx, m.ID, func(m *storage.Message) error {
						m.Content += "x"
						return nil
					})
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		got, err := s.GetMessage(ctx, m.ID)
		require.NoError(t, err)
		require.Equal(t, m.Content+strings.Repeat("x", writers*each), got.Content)
	})

	t.Run("DeleteClearsQuotes", func(t *testing.T) {
		m := post(t, s, c.ID, alice.ID, "", 20)
		q := &storage.Message{ChannelID: c.ID, UserID: bob.ID, ReplyToID: m.ID, Content: "quote"}
		require.NoError(t, s.PostMessage(ctx, q))
		require.NoError(t, s.DeleteMessage(ctx, m.ID))
		got, err := s.GetMessage(ctx, q.ID)
		require.NoError(t, err)
		require.Empty(t, got.ReplyToID)
		require.ErrorIs(t, s.DeleteMessage(ctx, m.ID), storage.ErrNotFound)
	})
}

func testThreads(t *testing.T, b *bundle) {
	s, ctx := b.store, context.Background()
	alice, bob := newUser(t, s, storage.RoleUser), newUser(t, s, storage.RoleUser)
	c := newChannel(t, s, storage.ChannelStandard, false, alice.ID, bob.ID)

	root := post(t, s, c.ID, alice.ID, "", 10)
	lone := post(t, s, c.ID, alice.ID, "", 11)
	r1 := post(t, s, c.ID, bob.ID, root.ID, 20)
	r2 := post(t, s, c.ID, alice.ID, root.ID, 30)
	// A reply to a reply joins the root's thread.
	r3 := post(t, s, c.ID, bob.ID, r1.ID, 40)
	require.Equal(t, root.ID, r3.ParentID)

	replies, err := s.ListReplies(ctx, root.ID, 0, 0)
	require.NoError(t, err)
	require.Equal(t, []string{r3.ID, r2.ID, r1.ID}, messageIDs(replies, msgID))
	replies, err = s.ListReplies(ctx, root.ID, 1, 1)
	require.NoError(t, err)
	require.Equal(t, []string{r2.ID}, messageIDs(replies, msgID))

	list, err := s.ListMessages(ctx, c.ID, 0, 0)
	require.NoError(t, err)
	require.Equal(t, []string{lone.ID, root.ID}, messageIDs(list, threadID))
	require.Zero(t, list[0].ReplyCount)
	require.Zero(t, list[0].LatestReplyAt)
	require.Equal(t, 3, list[1].ReplyCount)
	require.Equal(t, int64(40), list[1].LatestReplyAt)

	th, err := s.GetThread(ctx, root.ID)
	require.NoError(t, err)
	require.Equal(t, list[1], *th, "GetThread agrees with ListMessages")
	th, err = s.GetThread(ctx, lone.ID)
	require.NoError(t, err)
	require.Equal(t, list[0], *th)
	_, err = s.GetThread(ctx, "no-such-message")
	require.ErrorIs(t, err, storage.ErrNotFound)

	t.Run("DeleteReplyKeepsThread", func(t *testing.T) {
		require.NoError(t, s.DeleteMessage(ctx, r2.ID))
		replies, err := s.ListReplies(ctx, root.ID, 0, 0)
		require.NoError(t, err)
		require.Equal(t, []string{r3.ID, r1.ID}, messageIDs(replies, msgID))
	})

	t.Run("DeleteRootDeletesReplies", func(t *testing.T) {
		_, err := s.AddReaction(ctx, r1.ID, alice.ID, "eyes", 0, 0)
		require.NoError(t, err)
		require.NoError(t, s.DeleteMessage(ctx, root.ID))
		for _, id := range []string{root.ID, r1.ID, r3.ID} {
			_, err := s.GetMessage(ctx, id)
			require.ErrorIs(t, err, storage.ErrNotFound)
		}
		rs, err := s.ListReactions(ctx, []string{r1.ID})
		require.NoError(t, err)
		require.Empty(t, rs)
		_, err = s.GetMessage(ctx, lone.ID)
		require.NoError(t, err)
	})
}

func testPins(t *testing.T, b *bundle) {
	s, ctx := b.store, context.Background()
	alice := newUser(t, s, storage.RoleUser)
	c := newChannel(t, s, storage.ChannelStandard, false, alice.ID)
	m := post(t, s, c.ID, alice.ID, "", 1)

	got, err := s.PinMessage(ctx, m.ID, true, alice.ID, 55)
	require.NoError(t, err)
	require.True(t, got.IsPinned)
	require.Equal(t, int64(55), got.PinnedAt)
	require.Equal(t, alice.ID, got.PinnedBy)
	read, err := s.GetMessage(ctx, m.ID)
	require.NoError(t, err)
	require.Equal(t, *got, *read)

	got, err = s.PinMessage(ctx, m.ID, false, alice.ID, 66)
	require.NoError(t, err)
	require.False(t, got.IsPinned)
	require.Zero(t, got.PinnedAt)
	require.Empty(t, got.PinnedBy)
	read, err = s.GetMessage(ctx, m.ID)
	require.NoError(t, err)
	require.Equal(t, *got, *read)

	_, err = s.PinMessage(ctx, newID(), true, alice.ID, 1)
	require.ErrorIs(t, err, storage.ErrNotFound)
}

func testReactions(t *testing.T, b *bundle) {
	s, ctx := b.store, context.Background()
	alice, bob := newUser(t, s, storage.RoleUser), newUser(t, s, storage.RoleUser)
	c := newChannel(t, s, storage.ChannelStandard, false, alice.ID, bob.ID)
	m1, m2, m3 := post(t, s, c.ID, alice.ID, "", 1), post(t, s, c.ID, alice.ID, "", 2), post(t, s, c.ID, alice.ID, "", 3)

	add := func(msg, user, name string, at int64) bool {
		t.Helper()
		added, err := s.AddReaction(ctx, msg, user, name, at, 0)
		require.NoError(t, err)
		return added
	}
	require.True(t, add(m1.ID, bob.ID, "heart", 10))
	require.True(t, add(m1.ID, alice.ID, "+1", 11))
	require.True(t, add(m1.ID, alice.ID, "heart", 12))
	require.False(t, add(m1.ID, bob.ID, "heart", 13), "adding again changes nothing")
	require.True(t, add(m2.ID, bob.ID, "+1", 14))

	rs, err := s.ListReactions(ctx, []string{m1.ID, m2.ID, m3.ID, newID()})
	require.NoError(t, err)
	require.Equal(t, map[string][]storage.Reaction{
		m1.ID: {{Name: "heart", UserIDs: []string{bob.ID, alice.ID}, Count: 2}, {Name: "+1", UserIDs: []string{alice.ID}, Count: 1}},
		m2.ID: {{Name: "+1", UserIDs: []string{bob.ID}, Count: 1}},
	}, rs)

	removed, err := s.RemoveReaction(ctx, m1.ID, bob.ID, "heart")
	require.NoError(t, err)
	require.True(t, removed)
	removed, err = s.RemoveReaction(ctx, m1.ID, bob.ID, "heart")
	require.NoError(t, err)
	require.False(t, removed)
	rs, err = s.ListReactions(ctx, []string{m1.ID})
	require.NoError(t, err)
	// Names come in the order of their oldest remaining reaction.
	assert.Equal(t, []storage.Reaction{{Name: "+1", UserIDs: []string{alice.ID}, Count: 1}, {Name: "heart", UserIDs: []string{alice.ID}, Count: 1}}, rs[m1.ID])

	_, err = s.AddReaction(ctx, newID(), bob.ID, "x", 0, 0)
	require.ErrorIs(t, err, storage.ErrNotFound)
	_, err = s.AddReaction(ctx, m1.ID, newID(), "x", 0, 0)
	require.ErrorIs(t, err, storage.ErrNotFound)

	rs, err = s.ListReactions(ctx, nil)
	require.NoError(t, err)
	require.Empty(t, rs)
}

// testReactionCap: with maxNames, a new name past the cap is ErrLimit and
// not stored, names already there still take more accounts, and adds that
// race for the last places never pass the cap.
func testReactionCap(t *testing.T, b *bundle) {
	s, ctx := b.store, context.Background()
	alice, bob := newUser(t, s, storage.RoleUser), newUser(t, s, storage.RoleUser)
	c := newChannel(t, s, storage.ChannelStandard, false, alice.ID, bob.ID)
	m := post(t, s, c.ID, alice.ID, "", 1)
	const maxNames = 3
	for _, name := range []string{"a", "b", "c"} {
		added, err := s.AddReaction(ctx, m.ID, alice.ID, name, 0, maxNames)
		require.NoError(t, err)
		require.True(t, added)
	}
	_, err := s.AddReaction(ctx, m.ID, alice.ID, "d", 0, maxNames)
	require.ErrorIs(t, err, storage.ErrLimit)
	added, err := s.AddReaction(ctx, m.ID, bob.ID, "b", 0, maxNames)
	require.NoError(t, err)
	require.True(t, added, "a name already there takes another account")
	_, err = s.AddReaction(ctx, newID(), bob.ID, "a", 0, maxNames)
	require.ErrorIs(t, err, storage.ErrNotFound)

	// Racing: 24 new names for 5 places (checked one by one, each would pass).
	raced := post(t, s, c.ID, alice.ID, "", 2)
	const places, racers = 5, 24
	var wg sync.WaitGroup
	errs := make([]error, racers)
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.AddReaction(ctx, raced.ID, bob.ID, fmt.Sprint("n", i), 0, places)
		}()
	}
	wg.Wait()
	limited := 0
	for _, err := range errs {
		if err != nil {
			require.ErrorIs(t, err, storage.ErrLimit)
			limited++
		}
	}
	rs, err := s.ListReactions(ctx, []string{raced.ID})
	require.NoError(t, err)
	require.Len(t, rs[raced.ID], places)
	require.Equal(t, racers-places, limited)
}

func testConcurrentPosts(t *testing.T, b *bundle) {
	s, ctx := b.store, context.Background()
	alice, bob := newUser(t, s, storage.RoleUser), newUser(t, s, storage.RoleUser)
	c := newChannel(t, s, storage.ChannelStandard, false, alice.ID, bob.ID)
	root := post(t, s, c.ID, alice.ID, "", 1)

	const writers, each = 6, 15
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Go(func() {
			user := []string{alice.ID, bob.ID}[w%2]
			for i := range each {
				parent := ""
				if i%3 == 0 {
					parent = root.ID
				}
				errs <- s.PostMessage(ctx, &storage.Message{ChannelID: c.ID, UserID: user, ParentID: parent, Content: fmt.Sprint(w, "/", i)})
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	top, err := s.ListMessages(ctx, c.ID, 0, 0)
	require.NoError(t, err)
	require.Len(t, top, 1+writers*(each-each/3))
	require.Equal(t, root.ID, top[len(top)-1].ID)
	require.Equal(t, writers*each/3, top[len(top)-1].ReplyCount)
	replies, err := s.ListReplies(ctx, root.ID, 0, 0)
	require.NoError(t, err)
	require.Len(t, replies, writers*each/3)
}
