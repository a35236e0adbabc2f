// Package chat talks to OpenAI-compatible upstreams: it gathers their model
// lists (concurrently, each upstream under its own timeout, cached briefly),
// remembers which upstream serves which model, and relays a completion's
// Server-Sent Events to a client event by event, never holding more than
// one line of the answer.
package chat
