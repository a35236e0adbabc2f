// Package server builds every part of Quire from one Config (storage, auth,
// the REST API, the web endpoints, and the live documents and Socket.IO
// server once wired), serves them on one HTTP listener, and shuts them down
// in order: stop accepting, drain requests, close sockets, flush documents,
// close storage.
package server
