// Package server builds every part of Quire from one Config (storage, auth,
// the REST API, the web endpoints, the live documents and the Socket.IO
// server), serves them on one HTTP listener, and shuts them down in order:
// stop accepting, close sockets, drain requests, make every accepted update
// durable, close storage.
package server
