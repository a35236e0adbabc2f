package realtime

// PollsInFlight is how many polling GETs s's library transport holds.
func PollsInFlight(s *Server) int {
	if s.polls == nil {
		return 0
	}
	return int(s.polls.inFlight.Load())
}

// UserRoomMembers lists s's local sockets in the account's room.
func UserRoomMembers(s *Server, userID string) []string { return s.roomMembers(userRoom(userID)) }
