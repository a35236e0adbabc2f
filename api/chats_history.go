package api

import (
	"bytes"
	"encoding/json"
	"slices"
)

// A conversation's messages live in chat.history.messages, an object from
// message id to message ({id, role, content, parentId, childrenIds, done,
// …}); history.currentId is the message on screen, and chat.messages, when
// present, the list from the first message down to it. These edit them.

// link is what the tree of messages is made of.
type link struct {
	Role        string   `json:"role"`
	Done        *bool    `json:"done"`
	ParentID    *string  `json:"parentId"`
	ChildrenIDs []string `json:"childrenIds"`
}

func linkOf(raw json.RawMessage) link {
	var l link
	_ = json.Unmarshal(raw, &l) // checkChat kept the types; anything else reads as no link
	return l
}

// finishedAnswer: an assistant message whose answer is complete.
func (l link) finishedAnswer() bool { return l.Role == "assistant" && l.Done != nil && *l.Done }

// mergeChat merges in into stored (both chat objects), as Open WebUI's
// update does: in's top-level keys replace stored's, except history, which
// is merged by message (mergeHistory). It returns stored.
func mergeChat(stored, in *rawObject) *rawObject {
	for _, k := range in.keys {
		if k != "history" {
			stored.set(k, in.vals[k])
		}
	}
	if h, ok := in.get("history"); ok {
		stored.setObject("history", mergeHistory(stored.object("history"), objectOrNew(h)))
	}
	return stored
}

// mergeHistory merges the history in into stored: messages stored but not
// sent stay (the writer built its copy before they were saved), sent ones
// replace stored ones, except that a finished answer is never replaced by
// an unfinished copy (a stale placeholder saved after the server stored
// the answer). Parents then list every child that names them. currentId is
// in's when it names a message, else stored's when it does, else null.
func mergeHistory(stored, in *rawObject) *rawObject {
	storedCurrent, _ := stored.str("currentId")
	msgs := stored.object("messages")
	for _, k := range in.keys {
		if k != "messages" && k != "currentId" {
			stored.set(k, in.vals[k])
		}
	}
	if raw, sent := in.get("messages"); sent {
		incoming := objectOrNew(raw)
		// Parents need mending only when a stored message stays that the
		// writer did not send as is (a writer's own tree is its business).
		mend := false
		for _, id := range incoming.keys {
			v := incoming.vals[id]
			old, ok := msgs.get(id)
			switch {
			case ok && bytes.Equal(old, v): // the usual resend: nothing to decode
			case ok && linkOf(old).finishedAnswer() && !linkOf(v).finishedAnswer():
				mend = true
			default:
				msgs.set(id, v)
			}
		}
		if !mend {
			for _, id := range msgs.keys {
				if _, ok := incoming.get(id); !ok {
					mend = true
					break
				}
			}
		}
		if mend {
			linkChildren(msgs)
		}
	}
	var current any // null
	inCurrent, _ := in.str("currentId")
	for _, id := range []string{inCurrent, storedCurrent} {
		if _, ok := msgs.get(id); ok && id != "" {
			current = id
			break
		}
	}
	stored.setObject("messages", msgs)
	stored.setValue("currentId", current)
	return stored
}

// linkChildren appends to each parent's childrenIds the messages that name
// it as their parent but are missing there, in message order.
func linkChildren(msgs *rawObject) {
	links := make(map[string]link, len(msgs.keys))
	for _, id := range msgs.keys {
		links[id] = linkOf(msgs.vals[id])
	}
	missing := map[string][]string{}
	var parents []string
	// A parent's children as a set: a parent of n children, each naming
	// it, would otherwise take n² steps under the chat's row lock.
	listed := map[string]map[string]bool{}
	for _, id := range msgs.keys {
		p := links[id].ParentID
		if p == nil || *p == id {
			continue
		}
		if _, ok := msgs.get(*p); !ok {
			continue
		}
		if listed[*p] == nil {
			listed[*p] = make(map[string]bool, len(links[*p].ChildrenIDs))
			for _, c := range links[*p].ChildrenIDs {
				listed[*p][c] = true
			}
		}
		if listed[*p][id] {
			continue
		}
		if missing[*p] == nil {
			parents = append(parents, *p)
		}
		missing[*p] = append(missing[*p], id)
	}
	for _, p := range parents {
		setChildren(msgs, p, append(slices.Clone(links[p].ChildrenIDs), missing[p]...))
	}
}

func setChildren(msgs *rawObject, id string, children []string) {
	if children == nil {
		children = []string{}
	}
	m := objectOrNew(msgs.vals[id])
	m.setValue("childrenIds", children)
	msgs.set(id, m.encode())
}

// removeMessage deletes message id and its replies from chat, as the
// frontend's delete does: the replies' replies move up to id's parent,
// the current message becomes the newest leaf below that parent, and the
// deleted messages leave chat.messages. It reports whether id was there.
func removeMessage(chat *rawObject, id string) bool {
	hist := chat.object("history")
	msgs := hist.object("messages")
	raw, ok := msgs.get(id)
	if !ok {
		return false
	}
	self := linkOf(raw)
	exists := func(x string) bool { _, ok := msgs.get(x); return ok }
	gone := map[string]bool{id: true}
	var grandchildren []string
	taken := map[string]bool{} // grandchildren as a set: a list search is n² on a wide tree
	for _, c := range self.ChildrenIDs {
		if !exists(c) || gone[c] {
			continue
		}
		gone[c] = true
		for _, g := range linkOf(msgs.vals[c]).ChildrenIDs {
			if exists(g) && !gone[g] && !taken[g] {
				taken[g] = true
				grandchildren = append(grandchildren, g)
			}
		}
	}
	grandchildren = slices.DeleteFunc(grandchildren, func(g string) bool { return gone[g] })
	var parent any // null
	if p := self.ParentID; p != nil && exists(*p) && !gone[*p] {
		parent = *p
		kept := slices.DeleteFunc(slices.Clone(linkOf(msgs.vals[*p]).ChildrenIDs), func(c string) bool { return c == id })
		setChildren(msgs, *p, append(kept, grandchildren...))
	}
	for _, g := range grandchildren {
		m := objectOrNew(msgs.vals[g])
		m.setValue("parentId", parent)
		msgs.set(g, m.encode())
	}
	msgs.deleteAll(gone)
	// The newest leaf below the parent: its last child, that one's, …
	var current any // null
	var next []string
	if p, ok := parent.(string); ok {
		current, next = p, linkOf(msgs.vals[p]).ChildrenIDs
	} else {
		for _, k := range msgs.keys {
			if l := linkOf(msgs.vals[k]); l.ParentID == nil {
				next = append(next, k)
			}
		}
	}
	seen := map[string]bool{}
	for len(next) > 0 {
		c := next[len(next)-1]
		if seen[c] || !exists(c) {
			break
		}
		seen[c], current, next = true, c, linkOf(msgs.vals[c]).ChildrenIDs
	}
	hist.setObject("messages", msgs)
	hist.setValue("currentId", current)
	chat.setObject("history", hist)
	if list, ok := messageList(chat); ok {
		list = slices.DeleteFunc(list, func(m json.RawMessage) bool { return gone[messageIDOf(m)] })
		chat.set("messages", encodeList(list))
	}
	return true
}

// messageList returns chat.messages when it is a list.
func messageList(chat *rawObject) ([]json.RawMessage, bool) {
	raw, ok := chat.get("messages")
	var list []json.RawMessage
	if !ok || len(raw) == 0 || raw[0] != '[' || json.Unmarshal(raw, &list) != nil {
		return nil, false
	}
	if list == nil {
		list = []json.RawMessage{}
	}
	return list, true
}

func messageIDOf(raw json.RawMessage) string {
	var m struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(raw, &m)
	return m.ID
}

// putAssistantMessage writes m into message id of chat, creating it as a
// child of m.ParentID and the current message when it is new. When chat
// has a messages list, the list becomes what the frontend makes it: the
// path from the first message down to the current one (or, without a
// current message in history, the list with the message's entry updated).
func putAssistantMessage(chat *rawObject, id string, m AssistantMessage, now int64) {
	hist := chat.object("history")
	msgs := hist.object("messages")
	old, exists := msgs.get(id)
	msg, err := parseObject(old)
	isNew := !exists || err != nil
	if isNew {
		msg = newRawObject()
		msg.setValue("id", id)
		msg.setValue("parentId", nil)
		msg.setValue("childrenIds", []string{})
	}
	applyAnswer(msg, m)
	if isNew {
		msg.setValue("timestamp", now)
	}
	msgs.set(id, msg.encode())
	if isNew {
		parentID, _ := msg.str("parentId")
		if p, ok := msgs.get(parentID); ok && !slices.Contains(linkOf(p).ChildrenIDs, id) {
			setChildren(msgs, parentID, append(slices.Clone(linkOf(p).ChildrenIDs), id))
		}
		hist.setValue("currentId", id)
	}
	hist.setObject("messages", msgs)
	chat.setObject("history", hist)

	list, ok := messageList(chat)
	if !ok {
		return
	}
	if current, ok := hist.str("currentId"); ok {
		if path := messagePath(msgs, current); path != nil {
			chat.set("messages", encodeList(path))
			return
		}
	}
	for i, el := range list {
		if o, err := parseObject(el); err == nil && messageIDOf(el) == id {
			applyAnswer(o, m)
			list[i] = o.encode()
		}
	}
	chat.set("messages", encodeList(list))
}

// messagePath is the messages from the first one down to id, following
// parentId (nil when id is no message).
func messagePath(msgs *rawObject, id string) []json.RawMessage {
	var path []json.RawMessage
	seen := map[string]bool{}
	for !seen[id] {
		raw, ok := msgs.get(id)
		if !ok {
			break
		}
		seen[id] = true
		path = append(path, raw)
		p := linkOf(raw).ParentID
		if p == nil {
			break
		}
		id = *p
	}
	slices.Reverse(path)
	return path
}

// applyAnswer sets m's fields on a message.
func applyAnswer(msg *rawObject, m AssistantMessage) {
	msg.setValue("role", "assistant")
	msg.setValue("content", m.Content)
	msg.setValue("done", m.Done)
	if m.Model != "" {
		msg.setValue("model", m.Model)
	}
	if m.ParentID != "" {
		msg.setValue("parentId", m.ParentID)
	}
	if m.Error != "" {
		msg.setValue("error", map[string]string{"content": m.Error})
	}
}
