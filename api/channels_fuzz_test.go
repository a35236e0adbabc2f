package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/quire/quire/api"
	"github.com/quire/quire/quiretest"
	"github.com/quire/quire/storage"
)

// chanFuzz is one server for a channel fuzz target's whole run (SQLite;
// run with -parallel 1), with a public channel holding bob's message, his
// reply to it, and a message in another channel. Bodies name those by the
// placeholders $ROOT, $REPLY, $OTHER, and the accounts by $ADMIN, $BOB.
type chanFuzz struct {
	s                  *quiretest.Server
	admin, bob         quiretest.User
	channel            string
	root, reply, other string
	subs               *strings.Replacer
}

func newChanFuzz(f *testing.F) *chanFuzz {
	s := quiretest.New(f, quiretest.WithLogLevel(slog.LevelError))
	c := &chanFuzz{s: s, admin: s.SignUp("Admin"), bob: s.SignUp("Bob")}
	c.channel = createChannel(s, c.admin.Token, map[string]any{"name": "general"}).ID
	c.root = post(s, c.bob.Token, c.channel, map[string]any{"content": "root", "data": map[string]any{"files": []any{}}}).ID
	c.reply = post(s, c.bob.Token, c.channel, map[string]any{"content": "reply", "parent_id": c.root}).ID
	elsewhere := createChannel(s, c.admin.Token, map[string]any{"name": "elsewhere"}).ID
	c.other = post(s, c.bob.Token, elsewhere, map[string]any{"content": "other"}).ID
	c.subs = strings.NewReplacer("$ROOT", c.root, "$REPLY", c.reply, "$OTHER", c.other, "$ADMIN", c.admin.ID, "$BOB", c.bob.ID)
	return c
}

// call sends body (as is, labelled JSON) and returns the status and the
// answer, which must be JSON whatever the status.
func (c *chanFuzz) call(t *testing.T, method, path, token string, body []byte) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, c.s.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.s.Client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(out) {
		t.Fatalf("%s %s answered %d with invalid JSON %q", method, path, resp.StatusCode, out)
	}
	if resp.StatusCode >= 500 {
		t.Fatalf("%s %s %q: %d %s", method, path, body, resp.StatusCode, out)
	}
	return resp.StatusCode, out
}

// get answers a GET that must succeed, decoded (numbers as sent).
func (c *chanFuzz) get(t *testing.T, path, token string) any {
	t.Helper()
	status, out := c.call(t, http.MethodGet, path, token, nil)
	if status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, status, out)
	}
	return decodeJSON(t, out)
}

// snapshot is what a refused body must leave as it was: the channel, its
// top-level messages and the root's thread.
func (c *chanFuzz) snapshot(t *testing.T) any {
	t.Helper()
	return []any{
		c.get(t, chans+c.channel, c.bob.Token),
		c.get(t, chans+c.channel+"/messages?limit=200", c.bob.Token),
		c.get(t, chans+c.channel+"/messages/"+c.root+"/thread?limit=200", c.bob.Token),
	}
}

// mustBeUnchanged fails t when the snapshot differs from before.
func (c *chanFuzz) mustBeUnchanged(t *testing.T, before any, what string) {
	t.Helper()
	if after := c.snapshot(t); !reflect.DeepEqual(before, after) {
		t.Fatalf("%s changed the channel:\nbefore %v\nafter  %v", what, before, after)
	}
}

func decodeJSON(t *testing.T, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %q: %v", b, err)
	}
	return v
}

// sentFields reads a body as JSON.parse and Open WebUI's server do: UTF-8
// JSON text whose top level is an object, keys exact (no case folding),
// the last of a repeated key winning, numbers as written. A string's
// unpaired surrogate escape reads as U+FFFD (text cannot hold it: the
// normalisation docs/design.md names). ok is false for anything else.
func sentFields(body []byte) (fields map[string]any, ok bool) {
	if !utf8.Valid(body) || !json.Valid(body) {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if dec.Decode(&fields) != nil || fields == nil {
		return nil, false
	}
	return fields, true
}

// mustBeRefusal fails t unless the answer is a 4xx with a detail.
func mustBeRefusal(t *testing.T, status int, out []byte, body []byte) {
	t.Helper()
	var d struct {
		Detail string `json:"detail"`
	}
	if status < 400 || status > 499 || json.Unmarshal(out, &d) != nil || d.Detail == "" {
		t.Fatalf("%q: answered %d %s, want a 4xx with a detail", body, status, out)
	}
}

// objectOr is v when it is an object, else (absent, null) an empty one.
func objectOr(v any, absent any) any {
	if v == nil {
		return absent
	}
	return v
}

// member is key of a decoded JSON object (nil when absent or not one).
func member(v any, key string) any {
	m, _ := v.(map[string]any)
	return m[key]
}

// findMessage is the message id in a decoded list, or nil.
func findMessage(list any, id string) map[string]any {
	l, _ := list.([]any)
	for _, m := range l {
		if mm, _ := m.(map[string]any); mm != nil && mm["id"] == id {
			return mm
		}
	}
	return nil
}

// channelMessageSeeds are message bodies in the shapes the frontends send.
var channelMessageSeeds = []string{
	`{"content":"hello"}`,
	`{"content":"hi @model","temp_id":"t-1","data":{"files":[]},"meta":{}}`,
	`{"content":"in thread","parent_id":"$ROOT"}`,
	`{"content":"reply to a reply","parent_id":"$REPLY","reply_to_id":"$REPLY"}`,
	`{"content":"quote","reply_to_id":"$ROOT","parent_id":null}`,
	`{"content":"elsewhere","parent_id":"$OTHER"}`,
	`{"content":"","data":{"files":[{"type":"file","id":"f1","name":"a.txt","size":12}]},"meta":{"n":1.50,"big":1e300}}`,
	`{"content":"\u00e9\ud83d\ude00 <b>&amp;</b>","meta":{"x":[true,false,null,"s"]}}`,
	`{"content":"x","data":null,"meta":null,"temp_id":null}`,
	`{"content":1}`,
	`{"content":"x","meta":{"model_id":"gpt"}}`,
	`{"content":"x","parent_id":""}`,
	`{"content":"q","reply_to_id":"$OTHER"}`,
	`{"content":"q","parent_id":"$ROOT","reply_to_id":"$REPLY","data":{"a":{"b":[[{}]]}},"meta":{"done":true}}`,
	` {"content" : "spaced"} `,
	`{"content":"` + strings.Repeat("a", api.MaxMessageContentBytes+1) + `"}`,
}

// checkMessageAnswer compares an accepted message (as answered or read
// back) with the body's fields; parent is the thread root it must be in
// ("" for none), data and meta what it must hold.
func checkMessageAnswer(t *testing.T, body []byte, got any, sent map[string]any, parent string, data, meta any) {
	t.Helper()
	content, _ := sent["content"].(string)
	if member(got, "content") != content {
		t.Fatalf("%q: content reads back as %q, sent %q", body, member(got, "content"), content)
	}
	if len(content) > api.MaxMessageContentBytes {
		t.Fatalf("%q: accepted %d bytes of content", body, len(content))
	}
	if !reflect.DeepEqual(member(got, "data"), data) || !reflect.DeepEqual(member(got, "meta"), meta) {
		t.Fatalf("%q: data %v meta %v read back, want %v %v", body, member(got, "data"), member(got, "meta"), data, meta)
	}
	if p := member(got, "parent_id"); (parent == "" && p != nil) || (parent != "" && p != parent) {
		t.Fatalf("%q: parent_id reads back as %v, want %q", body, p, parent)
	}
}

// FuzzChannelMessagePost: a message body posted over REST is either
// refused with a 4xx and a detail, the channel and its messages unchanged,
// or stored as sent: the answer and the channel read back hold its
// content, data and meta (absent or null: {}), a reply sits under the
// thread root, and temp_id is echoed. Every answer is JSON.
func FuzzChannelMessagePost(f *testing.F) {
	for _, s := range channelMessageSeeds {
		f.Add([]byte(s))
	}
	c := newChanFuzz(f)
	var before any // every body leaves the channel as it found it
	f.Fuzz(func(t *testing.T, body []byte) {
		body = []byte(c.subs.Replace(string(body)))
		if before == nil {
			before = c.snapshot(t)
		}
		status, out := c.call(t, http.MethodPost, chans+c.channel+"/messages/post", c.bob.Token, body)
		if status != http.StatusOK {
			mustBeRefusal(t, status, out, body)
			c.mustBeUnchanged(t, before, "a refused post")
			return
		}
		sent, ok := sentFields(body)
		if !ok {
			t.Fatalf("%q: accepted a body that is not a UTF-8 JSON object: %s", body, out)
		}
		got := decodeJSON(t, out)
		id, _ := member(got, "id").(string)
		parent, _ := sent["parent_id"].(string)
		if parent == c.reply {
			parent = c.root // a reply to a reply is stored under the thread root
		}
		empty := map[string]any{}
		data, meta := objectOr(sent["data"], empty), objectOr(sent["meta"], empty)
		checkMessageAnswer(t, body, got, sent, parent, data, meta)
		if tid := member(got, "temp_id"); !reflect.DeepEqual(tid, sent["temp_id"]) {
			t.Fatalf("%q: temp_id answered as %v", body, tid)
		}
		if q, sq := member(got, "reply_to_id"), sent["reply_to_id"]; !reflect.DeepEqual(q, sq) && (q != nil || sq != "") {
			t.Fatalf("%q: reply_to_id answered as %v", body, q)
		}
		list := chans + c.channel + "/messages?limit=200"
		if parent != "" {
			list = chans + c.channel + "/messages/" + parent + "/thread?limit=200"
		}
		stored := findMessage(c.get(t, list, c.bob.Token), id)
		if stored == nil {
			t.Fatalf("%q: message %s accepted but not listed", body, id)
		}
		delete(got.(map[string]any), "temp_id")
		if !reflect.DeepEqual(stored, got) {
			t.Fatalf("%q: answered %v\nread back %v", body, got, stored)
		}
		if status, out := c.call(t, http.MethodDelete, chans+c.channel+"/messages/"+id+"/delete", c.bob.Token, nil); status != http.StatusOK {
			t.Fatalf("delete %s: %d %s", id, status, out)
		}
		c.mustBeUnchanged(t, before, "a post and its deletion")
	})
}

// FuzzChannelMessageUpdate: an update body for bob's reply is either
// refused with a 4xx and a detail, nothing changed, or applied as sent:
// content replaced, data and meta replaced when sent as objects and kept
// when absent or null, the answer equal to the message read back.
func FuzzChannelMessageUpdate(f *testing.F) {
	for _, s := range channelMessageSeeds {
		f.Add([]byte(s))
	}
	c := newChanFuzz(f)
	var before any // the channel as the last accepted update left it
	f.Fuzz(func(t *testing.T, body []byte) {
		body = []byte(c.subs.Replace(string(body)))
		thread := chans + c.channel + "/messages/" + c.root + "/thread?limit=200"
		if before == nil {
			before = c.snapshot(t)
		}
		prev := findMessage(before.([]any)[2], c.reply)
		status, out := c.call(t, http.MethodPost, chans+c.channel+"/messages/"+c.reply+"/update", c.bob.Token, body)
		if status != http.StatusOK {
			mustBeRefusal(t, status, out, body)
			c.mustBeUnchanged(t, before, "a refused update")
			return
		}
		sent, ok := sentFields(body)
		if !ok {
			t.Fatalf("%q: accepted a body that is not a UTF-8 JSON object: %s", body, out)
		}
		got := decodeJSON(t, out)
		checkMessageAnswer(t, body, got, sent, c.root, objectOr(sent["data"], prev["data"]), objectOr(sent["meta"], prev["meta"]))
		stored := findMessage(c.get(t, thread, c.bob.Token), c.reply)
		if !reflect.DeepEqual(stored, got) {
			t.Fatalf("%q: answered %v\nread back %v", body, got, stored)
		}
		before = nil // changed: read again
	})
}

// channelBodySeeds are channel create and update bodies.
var channelBodySeeds = []string{
	`{"name":"news","description":"what happened"}`,
	`{"name":"secret","is_private":true,"user_ids":["$BOB"]}`,
	`{"name":"pals","type":"group","user_ids":["$BOB","$ADMIN"]}`,
	`{"type":"dm","user_ids":["$BOB"]}`,
	`{"type":"dm","user_ids":["$ADMIN"],"name":""}`,
	`{"name":"n","type":null,"is_private":false,"data":{"k":[1,2.5,"x"]},"meta":{"m":{}}}`,
	`{"name":"n","data":null,"meta":null,"description":null}`,
	`{"name":"\u00e9\ud83d\ude00","description":"` + strings.Repeat("d", 100) + `"}`,
	`{"name":""}`,
	`{"name":"x","type":"other"}`,
	`{"name":"x","user_ids":["nobody"]}`,
	`{"name":"x","is_private":"yes"}`,
	`{"description":"only"}`,
}

// FuzzChannelCreate: a create body (the admin's) is either refused with a
// 4xx and a detail, no channel made, or makes one channel that reads back
// as sent: name, description, data and meta (absent or null: {}), type
// (null for a standard channel), groups and DMs private, the creator and
// the user_ids its members.
func FuzzChannelCreate(f *testing.F) {
	for _, s := range channelBodySeeds {
		f.Add([]byte(s))
	}
	c := newChanFuzz(f)
	all := func(t *testing.T) int {
		l, err := c.s.Store().ListChannels(context.Background(), storage.ListChannelsOptions{All: true})
		if err != nil {
			t.Fatal(err)
		}
		return len(l)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		body = []byte(c.subs.Replace(string(body)))
		n := all(t)
		status, out := c.call(t, http.MethodPost, chans+"create", c.admin.Token, body)
		if status != http.StatusOK {
			mustBeRefusal(t, status, out, body)
			if all(t) != n {
				t.Fatalf("%q: refused (%d %s), yet a channel was made", body, status, out)
			}
			return
		}
		sent, ok := sentFields(body)
		if !ok {
			t.Fatalf("%q: accepted a body that is not a UTF-8 JSON object: %s", body, out)
		}
		got := decodeJSON(t, out)
		id, _ := member(got, "id").(string)
		if all(t) != n+1 {
			t.Fatalf("%q: accepted, but %d channels were made", body, all(t)-n)
		}
		stored := c.get(t, chans+id, c.admin.Token)
		if !reflect.DeepEqual(stored, got) {
			t.Fatalf("%q: answered %v\nread back %v", body, got, stored)
		}
		typ := sent["type"]
		private, _ := sent["is_private"].(bool)
		if typ == "group" || typ == "dm" {
			private = true
		}
		empty := map[string]any{}
		for k, want := range map[string]any{
			"name": objectOr(sent["name"], ""), "description": objectOr(sent["description"], ""),
			"type": objectOr(typ, nil), "is_private": private,
			"data": objectOr(sent["data"], empty), "meta": objectOr(sent["meta"], empty),
		} {
			if k == "type" && want == "" {
				want = nil // "" is the standard type, answered null
			}
			if !reflect.DeepEqual(member(got, k), want) {
				t.Fatalf("%q: %s reads back as %v, want %v", body, k, member(got, k), want)
			}
		}
		members := map[any]bool{c.admin.ID: true}
		if l, isList := sent["user_ids"].([]any); isList {
			for _, u := range l {
				members[u] = true
			}
		}
		gotMembers := map[any]bool{}
		l, _ := member(got, "user_ids").([]any)
		for _, u := range l {
			gotMembers[u] = true
		}
		if !reflect.DeepEqual(members, gotMembers) || len(l) != len(gotMembers) {
			t.Fatalf("%q: members %v, want each of %v once", body, l, members)
		}
		if status, out := c.call(t, http.MethodDelete, chans+id+"/delete", c.admin.Token, nil); status != http.StatusOK {
			t.Fatalf("delete %s: %d %s", id, status, out)
		}
	})
}

// FuzzChannelUpdate: an update body for the public channel (the admin's)
// is either refused with a 4xx and a detail, the channel unchanged, or
// applied as sent: name, description and is_private replaced when sent,
// data and meta when sent as objects, the rest kept; type and members
// never change. The channel is put back after each accepted body.
func FuzzChannelUpdate(f *testing.F) {
	for _, s := range channelBodySeeds {
		f.Add([]byte(s))
	}
	c := newChanFuzz(f)
	path := chans + c.channel
	f.Fuzz(func(t *testing.T, body []byte) {
		body = []byte(c.subs.Replace(string(body)))
		before := c.get(t, path, c.admin.Token)
		status, out := c.call(t, http.MethodPost, path+"/update", c.admin.Token, body)
		if status != http.StatusOK {
			mustBeRefusal(t, status, out, body)
			if after := c.get(t, path, c.admin.Token); !reflect.DeepEqual(before, after) {
				t.Fatalf("%q: refused (%d %s), yet the channel changed:\n%v\n%v", body, status, out, before, after)
			}
			return
		}
		sent, ok := sentFields(body)
		if !ok {
			t.Fatalf("%q: accepted a body that is not a UTF-8 JSON object: %s", body, out)
		}
		got := decodeJSON(t, out)
		if stored := c.get(t, path, c.admin.Token); !reflect.DeepEqual(stored, got) {
			t.Fatalf("%q: answered %v\nread back %v", body, got, stored)
		}
		for _, k := range []string{"name", "description", "is_private", "data", "meta", "type", "user_ids", "id", "user_id", "created_at"} {
			want := member(before, k)
			if v := sent[k]; v != nil && k != "type" && k != "user_ids" && k != "id" && k != "user_id" && k != "created_at" {
				want = v
			}
			if !reflect.DeepEqual(member(got, k), want) {
				t.Fatalf("%q: %s reads back as %v, want %v", body, k, member(got, k), want)
			}
		}
		restore, err := json.Marshal(map[string]any{"name": member(before, "name"), "description": member(before, "description"),
			"is_private": member(before, "is_private"), "data": member(before, "data"), "meta": member(before, "meta")})
		if err != nil {
			t.Fatal(err)
		}
		if status, out := c.call(t, http.MethodPost, path+"/update", c.admin.Token, restore); status != http.StatusOK {
			t.Fatalf("restore: %d %s", status, out)
		}
	})
}
