package auth

import "github.com/quire/quire/storage"

// CanAccessNote reports whether u may use note n with permission perm
// (storage.PermRead or storage.PermWrite): admins and the owner always may;
// anyone else needs a user grant, where write implies read. A nil user (or
// a pending one) may do nothing.
func CanAccessNote(u *storage.User, n *storage.Note, perm string) bool {
	if u == nil || n == nil || (perm != storage.PermRead && perm != storage.PermWrite) {
		return false
	}
	switch u.Role {
	case storage.RoleAdmin:
		return true
	case storage.RoleUser:
	default:
		return false
	}
	if n.UserID == u.ID {
		return true
	}
	for _, g := range n.AccessGrants {
		if g.PrincipalType != "user" || g.PrincipalID != u.ID {
			continue
		}
		if g.Permission == storage.PermWrite || (g.Permission == perm && perm == storage.PermRead) {
			return true
		}
	}
	return false
}
