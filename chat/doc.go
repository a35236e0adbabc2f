// Package chat talks to OpenAI-compatible upstreams: it gathers their model
// lists (concurrently, each upstream under its own timeout, cached briefly),
// remembers which upstream serves which model, and relays a completion's
// Server-Sent Events to a client event by event, never holding more than
// one line of the answer. Go callers read an answer as deltas
// (Response.Deltas); Tasks runs completions in the background (Open
// WebUI's task mode) and lists and stops them.
package chat
