package realtime

// OnJoinChannelsListed runs f with the account in every join-channels of s
// between its listing and its joins (a test's window for a racing removal).
func OnJoinChannelsListed(s *Server, f func(userID string)) { joinChannelsListed.Store(s, f) }

// OnJoinLocalListed runs f with the account whenever s has listed its
// sockets to join them to a channel's room, before the joins.
func OnJoinLocalListed(s *Server, f func(userID string)) { joinLocalListed.Store(s, f) }

// OnRoomCommand runs f with every JoinRoom and LeaveRoom command s handles,
// before it acts on it.
func OnRoomCommand(s *Server, f func(Command)) { roomCommandSeen.Store(s, f) }

// OnCommandWait runs f with the instances b's CommandWait waits for, once
// it starts waiting. Set before Start.
func OnCommandWait(b *RedisBroker, f func(pending []string)) { b.onWait = f }

// OnCallChecked runs f in every call s emits to a local socket, between
// its account check and its emit.
func OnCallChecked(s *Server, f func()) { callChecked.Store(s, f) }

// OnSwitchWaitsForCall runs f when a socket's account change on s must
// wait for a call between its check and its emit.
func OnSwitchWaitsForCall(s *Server, f func()) { switchWaitsForCall.Store(s, f) }
