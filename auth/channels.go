package auth

import "github.com/quire/quire/storage"

// CanReadChannel reports whether u may read channel c (its messages,
// members and events) and post in it; m is u's membership, nil when u is
// not a member. Members always may; anyone signed in may use a public
// standard channel; admins may also use private standard channels, but
// never a group or DM they are not in. A nil or pending user may do nothing.
func CanReadChannel(u *storage.User, c *storage.Channel, m *storage.ChannelMember) bool {
	if u == nil || c == nil || (u.Role != storage.RoleAdmin && u.Role != storage.RoleUser) {
		return false
	}
	if m != nil && m.UserID == u.ID && m.ChannelID == c.ID {
		return true
	}
	if c.Type != storage.ChannelStandard {
		return false
	}
	return !c.IsPrivate || u.Role == storage.RoleAdmin
}

// CanManageChannel reports whether u may rename, delete or change the
// members of c: its owner, its managers, and admins (for channels they
// could read).
func CanManageChannel(u *storage.User, c *storage.Channel, m *storage.ChannelMember) bool {
	if !CanReadChannel(u, c, m) {
		return false
	}
	return c.UserID == u.ID || u.Role == storage.RoleAdmin || (m != nil && m.Role == storage.MemberManager)
}
