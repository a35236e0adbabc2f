package realtime

// OnJoinChannelsListed runs f with the account in every join-channels of s
// between its listing and its joins (a test's window for a racing removal).
func OnJoinChannelsListed(s *Server, f func(userID string)) { joinChannelsListed.Store(s, f) }
