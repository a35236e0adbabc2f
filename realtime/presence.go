package realtime

import (
	"context"
	"encoding/json"
	"slices"
	"time"
)

// Presence and usage (protocol §9.6). Heartbeats only touch the presence
// Manager; what watchers see is a diff of who is online, computed once per
// PresenceInterval and sent as one message to the presence room, so the
// cost grows with watchers, never with watchers × heartbeats.

const (
	evUsage          = "usage"
	evPresenceWatch  = "presence:watch"
	evEvents         = "events"
	presenceRoomName = "presence"
	maxModelIDLen    = 256
)

// onUsage: {action: "chat", model, chat_id} → the model is in use by this
// socket for the next 3 s.
func (c *conn) onUsage(ctx context.Context, payload any) reply {
	f, isObj := asFields(payload)
	model, isStr := f.str("model")
	if !isObj || !isStr || model == "" || len(model) > maxModelIDLen {
		return fail(reasonInvalidPayload)
	}
	if err := c.srv.cfg.Presence.UseModel(ctx, c.sid, model); err != nil {
		c.logErr("usage failed", err)
		return fail(reasonUnavailable)
	}
	return ok()
}

// onPresenceWatch: {watch?: bool} → the socket gets (or, with false, stops
// getting) presence changes as events {data:{type:"presence", data:
// {online, offline}}}; the ack carries who is online now.
func (c *conn) onPresenceWatch(ctx context.Context, payload any) reply {
	watch := true
	if f, isObj := asFields(payload); isObj {
		if v, has := f["watch"]; has {
			b, isBool := v.(bool)
			if !isBool {
				return fail(reasonInvalidPayload)
			}
			watch = b
		}
	} else if payload != nil {
		return fail(reasonInvalidPayload)
	}
	if !watch {
		c.leave(presenceRoomName)
		return ok()
	}
	online, err := c.srv.cfg.Presence.Online(ctx)
	if err != nil {
		c.logErr("presence list failed", err)
		return fail(reasonUnavailable)
	}
	c.join(presenceRoomName)
	return okWith(map[string]any{"online": online})
}

// watchPresence publishes the online diff every interval until ctx ends.
func (s *Server) watchPresence(ctx context.Context, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	var last []string
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now, err := s.cfg.Presence.Online(ctx)
		if err != nil {
			if ok, quiet := s.warn.allow("presence list"); ok {
				s.log.Error("presence list failed", "err", err, "suppressed", quiet)
			}
			continue
		}
		online, offline := sortedDiff(last, now)
		last = now
		if len(online) == 0 && len(offline) == 0 {
			continue
		}
		p, err := json.Marshal(map[string]any{"data": map[string]any{"type": "presence",
			"data": map[string][]string{"online": online, "offline": offline}}})
		if err != nil {
			continue
		}
		s.met.presenceBatches.Inc()
		s.publish(Message{Room: presenceRoomName, Event: evEvents, Payload: p, Origin: s.origin("")})
	}
}

// sortedDiff returns what is in next but not prev, and what is in prev but
// not next; both inputs are sorted, both outputs are too (never nil).
func sortedDiff(prev, next []string) (added, removed []string) {
	added, removed = []string{}, []string{}
	for _, id := range next {
		if _, found := slices.BinarySearch(prev, id); !found {
			added = append(added, id)
		}
	}
	for _, id := range prev {
		if _, found := slices.BinarySearch(next, id); !found {
			removed = append(removed, id)
		}
	}
	return added, removed
}
