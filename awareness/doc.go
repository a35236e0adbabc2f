// Package awareness validates Open WebUI's awareness messages and remembers, per document
// and socket, each client's last state so joiners see everyone and leavers leave no ghosts.
//
// The wire format is not y-protocols: an update is the UTF-8 JSON text of
// {"<clientID>": state|null, …} (protocol.md §4.1). Relayed bytes reach every browser, and
// the Go library's own awareness decoder dies on hostile input, so nothing is kept or
// relayed until Validate accepts it.
package awareness
