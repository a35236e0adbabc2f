package api

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/quire/quire/chat"
	"github.com/quire/quire/internal/runecut"
	"github.com/quire/quire/storage"
	"github.com/quire/quire/wire"
)

// Channel answers (protocol §5.1, "model reply in channel"): a posted
// message that mentions a model, as the stock frontend writes it
// (<@M:model-id|name>) or typed (@model-id, an id GET /api/models offers),
// gets that model's answer as a reply in its thread. The reply is posted
// at once (empty, meta {model_id, model_name, done: false}) and told as
// `message`; the answer then streams into it as `message:update` events to
// the channel's room, at most one per ChannelAnswerInterval, each with the
// whole text so far (the frontend replaces the message by id); the end is
// stored and told with meta.done true. The room carries it, so a private
// channel's answer reaches its members only, as its other messages.
//
// The answer runs on chat.Tasks under chat_id "channel:<id>": it is listed
// in GET /api/tasks of the account that asked, stopped by
// POST /api/tasks/stop/{id}, and ended and saved by the server's shutdown.
// A fault ends it with the error's text in the message (and meta.error).
// Deleting the reply, its thread's root or the channel ends it too
// (endAnswers), quietly: nothing is stored or told after the deletion.

const (
	// ChannelAnswerIntervalDefault spaces a channel answer's updates.
	ChannelAnswerIntervalDefault = 100 * time.Millisecond
	// maxMentionedModels bounds the answers one message starts.
	maxMentionedModels = 3
	// channelHistoryMessages bounds the thread's earlier messages the
	// model is sent.
	channelHistoryMessages = 20
)

var errChannelAnswerTooLong = fmt.Errorf("the model's answer is longer than a channel message may be (%d KiB)", MaxMessageContentBytes>>10)

var (
	// mentionTag is the frontend's mention of a model: <@M:id|name>.
	mentionTag = regexp.MustCompile(`<@M:([^|>\s]+)(?:\|[^>]*)?>`)
	// mentionAt is a typed @word, at the start or after a space.
	mentionAt = regexp.MustCompile(`(?:^|\s)@([^\s<>@]+)`)
	// anyTag is every <@X:id|name> mention, shown to the model as @name.
	anyTag = regexp.MustCompile(`<@[A-Za-z]:([^|>\s]+)(?:\|([^>]*))?>`)
)

// mentionedModels returns the models content mentions, each once, in
// order, at most maxMentionedModels.
func (a *API) mentionedModels(ctx context.Context, content string) []chat.Model {
	var ids []string
	for _, m := range mentionTag.FindAllStringSubmatch(content, -1) {
		ids = append(ids, m[1])
	}
	for _, m := range mentionAt.FindAllStringSubmatch(content, -1) {
		// "@model, …": the id, or the id without the punctuation after it.
		ids = append(ids, m[1], strings.TrimRight(m[1], ".,;:!?)]}'\""))
	}
	if len(ids) == 0 {
		return nil
	}
	byID := map[string]chat.Model{}
	for _, m := range a.cfg.Chat.Models(ctx) {
		byID[m.ID] = m
	}
	var out []chat.Model
	seen := map[string]bool{}
	for _, id := range ids {
		m, ok := byID[id]
		if !ok || seen[id] {
			continue
		}
		seen[id] = true
		out = append(out, m)
		if len(out) == maxMentionedModels {
			break
		}
	}
	return out
}

// answerMentions starts an answer for each model the posted message asked
// mentions. Failures are logged: the message itself was posted.
func (a *API) answerMentions(r *http.Request, c *chanReq, asked *storage.Message) {
	if a.cfg.Chat == nil || !strings.Contains(asked.Content, "@") {
		return
	}
	for _, m := range a.mentionedModels(r.Context(), asked.Content) {
		a.startChannelAnswer(r, c, asked, m)
	}
}

// msgModelIDServers refuses a client's meta.model_id.
const msgModelIDServers = "meta.model_id is set by the server only: it marks a model's answer"

// modelIDKept reports whether a client's meta leaves meta.model_id as in
// stored (a message's meta; nil for a new message): absent, null, or the
// stored answer's own. A message with model_id is sent to that model as
// its own turn (channelHistory), so no client may make one.
func modelIDKept(meta object, stored json.RawMessage) bool {
	v, ok := meta["model_id"]
	if !ok || v == nil {
		return true
	}
	var was answerMeta
	_ = json.Unmarshal(stored, &was) // no meta, no model
	id, isString := v.(string)
	return isString && was.ModelID != "" && id == was.ModelID
}

// answerMeta is the reply's meta, as Open WebUI's.
type answerMeta struct {
	ModelID   string `json:"model_id"`
	ModelName string `json:"model_name"`
	Done      bool   `json:"done"`
	Error     string `json:"error,omitempty"`
}

// startChannelAnswer posts the empty reply and starts the answer's task.
func (a *API) startChannelAnswer(r *http.Request, c *chanReq, asked *storage.Message, model chat.Model) {
	ctx := r.Context()
	thread := asked.ParentID
	if thread == "" {
		thread = asked.ID
	}
	history, err := a.channelHistory(ctx, asked, thread, model.ID)
	if err != nil {
		a.log.ErrorContext(ctx, "channel answer: read the thread", "channel", c.ch.ID, "err", err)
		return
	}
	body, err := json.Marshal(map[string]any{"model": model.ID, "messages": history, "stream": true})
	if err != nil {
		a.log.ErrorContext(ctx, "channel answer: encode request", "err", err)
		return
	}
	meta, _ := json.Marshal(answerMeta{ModelID: model.ID, ModelName: model.Name})
	reply := &storage.Message{ID: uuid.NewString(), UserID: c.s.user.ID, ChannelID: c.ch.ID, ParentID: thread, Meta: meta}
	ans := &channelAnswer{a: a, c: c, reply: *reply, model: model, where: *reply}
	// Listed, here and in the registry (so on every instance), before the
	// reply exists: a deletion that takes the reply finds the answer once
	// the reply is gone (endAnswers) and waits for the task's end, which
	// comes after everything this tells, on whichever instance it is.
	a.answers.add(ans)
	t, claimErr := a.cfg.Tasks.Claim(ctx, chat.Task{UserID: c.s.user.ID, ChatID: channelTaskPrefix + c.ch.ID,
		MessageID: reply.ID, Thread: thread, Model: model.ID})
	drop := func() {
		a.answers.remove(ans)
		if claimErr == nil {
			a.cfg.Tasks.Release(t)
		}
	}
	if err := a.cfg.Store.PostMessage(ctx, reply); err != nil {
		drop()
		if !errors.Is(err, storage.ErrNotFound) { // else: the thread went meanwhile
			a.log.ErrorContext(ctx, "channel answer: post the reply", "channel", c.ch.ID, "err", err)
		}
		return
	}
	ans.reply = *reply
	if !ans.tell(func() { a.emit(c, "message", reply.ID, ans.wire(reply)) }) {
		drop()
		return // deleted already
	}
	a.emitParent(r, c, thread)
	if claimErr != nil { // shutting down: the reply says so
		a.answers.remove(ans)
		ans.finish(ctx, nil, claimErr)
		return
	}
	a.cfg.Tasks.Start(t, func(ctx context.Context, t *chat.Task) {
		defer a.answers.remove(ans)
		ans.run(ctx, t, body)
	})
	ans.started(t)
}

// answerSet is the channel answers that are running (or starting), so
// that a deletion can end those that write into what it took.
type answerSet struct {
	mu  sync.Mutex
	all map[*channelAnswer]struct{}
}

func (s *answerSet) add(ans *channelAnswer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.all == nil {
		s.all = map[*channelAnswer]struct{}{}
	}
	s.all[ans] = struct{}{}
}

func (s *answerSet) remove(ans *channelAnswer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.all, ans)
}

func (s *answerSet) matching(keep func(reply *storage.Message) bool) []*channelAnswer {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*channelAnswer
	for ans := range s.all {
		if keep(&ans.where) {
			out = append(out, ans)
		}
	}
	return out
}

// channelTaskPrefix prefixes a channel answer's task's ChatID.
const channelTaskPrefix = "channel:"

// endAnswers ends the answers whose reply keep names, after a deletion
// took their reply, on every instance: each stops, as a stop would, but
// stores and tells nothing more (cause chat.ErrTaskDeleted); it returns
// once they ended (or r was cancelled). Called after the deletion is
// stored and before it is told, so that nothing about a reply reaches the
// room after its message:delete. This instance's answers not started yet
// are marked too: they stop as they start.
func (a *API) endAnswers(r *http.Request, keep func(reply *storage.Message) bool) {
	for _, ans := range a.answers.matching(keep) {
		ans.end()
	}
	ts, err := a.cfg.Tasks.List(r.Context(), func(t *chat.Task) bool {
		ch, ok := strings.CutPrefix(t.ChatID, channelTaskPrefix)
		return ok && keep(&storage.Message{ID: t.MessageID, ChannelID: ch, ParentID: t.Thread})
	})
	if err != nil {
		a.log.ErrorContext(r.Context(), "channel answers of a deletion not ended", "err", err)
		return
	}
	if err := a.cfg.Tasks.Stop(r.Context(), chat.ErrTaskDeleted, chat.IDs(ts)...); err != nil {
		a.log.WarnContext(r.Context(), "channel answers of a deletion: stop", "err", err)
	}
}

// channelHistory is what the model is sent: the thread up to the asking
// message (the newest channelHistoryMessages), the model's own replies as
// its turns and everyone else's messages (other models' answers too) as
// "Name: text"; answers still empty are left out.
func (a *API) channelHistory(ctx context.Context, asked *storage.Message, thread, modelID string) ([]map[string]string, error) {
	msgs := []storage.Message{*asked}
	if asked.ParentID != "" {
		replies, err := a.cfg.Store.ListReplies(ctx, thread, 0, channelHistoryMessages)
		if err != nil {
			return nil, err
		}
		msgs = msgs[:0]
		for i := len(replies) - 1; i >= 0; i-- { // oldest first
			msgs = append(msgs, replies[i])
		}
		if len(replies) < channelHistoryMessages {
			root, err := a.cfg.Store.GetMessage(ctx, thread)
			if err != nil && !errors.Is(err, storage.ErrNotFound) {
				return nil, err
			}
			if err == nil {
				msgs = append([]storage.Message{*root}, msgs...)
			}
		}
	}
	names := map[string]string{}
	out := make([]map[string]string, 0, len(msgs))
	for _, m := range msgs {
		var meta answerMeta
		_ = json.Unmarshal(m.Meta, &meta)
		switch {
		case meta.ModelID != "" && m.Content == "": // an answer not written yet
			continue
		case meta.ModelID == modelID:
			out = append(out, map[string]string{"role": "assistant", "content": m.Content})
			continue
		case meta.ModelID != "": // another model's answer, by that model
			out = append(out, map[string]string{"role": "user", "content": cmp.Or(meta.ModelName, meta.ModelID) + ": " + m.Content})
			continue
		}
		name, ok := names[m.UserID]
		if !ok {
			if u, err := a.cfg.Store.GetUser(ctx, m.UserID); err == nil {
				name = u.Name
			}
			names[m.UserID] = name
		}
		text := anyTag.ReplaceAllStringFunc(m.Content, func(tag string) string {
			p := anyTag.FindStringSubmatch(tag)
			if p[2] != "" {
				return "@" + p[2]
			}
			return "@" + p[1]
		})
		if name != "" {
			text = name + ": " + text
		}
		out = append(out, map[string]string{"role": "user", "content": text})
	}
	return out, nil
}

// channelAnswer is one running answer into a channel.
type channelAnswer struct {
	a     *API
	c     *chanReq // the asking request's account and channel (read only)
	reply storage.Message
	model chat.Model
	out   *deltaSender
	// where is the reply as posted (id, channel, thread), never changed:
	// what a deletion is matched against, from any goroutine.
	where storage.Message

	length int             // bytes of answer received (the task's goroutine)
	sent   strings.Builder // the text told so far (under out's lock)
	// ending: the stream is over; the text still waiting is taken in
	// without an update of its own, as the stored final one follows.
	ending atomic.Bool

	// mu orders what the answer tells and stores against its end: it is
	// held while the room is told or the end is stored, so that once end
	// has returned nothing more is.
	mu   sync.Mutex
	gone bool       // the reply was deleted (end)
	task *chat.Task // once started
}

// started records the answer's task, and stops it at once when the reply
// went meanwhile.
func (ans *channelAnswer) started(t *chat.Task) {
	ans.mu.Lock()
	ans.task = t
	gone := ans.gone
	ans.mu.Unlock()
	if gone {
		// Not waited for: the request that started it answers at once.
		done, cancel := context.WithCancel(context.Background())
		cancel()
		_ = ans.a.cfg.Tasks.Stop(done, chat.ErrTaskDeleted, t.ID)
	}
}

// end marks the answer's reply deleted and returns its task, if started.
func (ans *channelAnswer) end() *chat.Task {
	ans.mu.Lock()
	defer ans.mu.Unlock()
	ans.gone = true
	return ans.task
}

// tell runs f, which tells the room or stores the answer, unless the reply
// was deleted; it reports whether f ran.
func (ans *channelAnswer) tell(f func()) bool {
	ans.mu.Lock()
	defer ans.mu.Unlock()
	if ans.gone {
		return false
	}
	f()
	return true
}

func (ans *channelAnswer) run(ctx context.Context, t *chat.Task, body []byte) {
	// One update at once, then at most one per interval; no size bound.
	ans.out = newDeltaSender(ans.a.cfg.ChannelAnswerInterval, math.MaxInt, ans.update)
	err := ans.stream(ctx, t, body)
	if errors.Is(context.Cause(ctx), chat.ErrTaskDeleted) {
		ans.end() // by a deletion on another instance: nothing more is told
	}
	ans.finish(ctx, t, err)
}

func (ans *channelAnswer) stream(ctx context.Context, t *chat.Task, body []byte) error {
	up := ans.model.Upstream
	if i, ok := ans.a.cfg.Chat.Lookup(ctx, t.Model); ok {
		up = i // the model may have moved since the mention was read
	}
	resp, err := ans.a.cfg.Chat.Complete(ctx, up, body, true)
	if err != nil {
		return err
	}
	defer resp.Close()
	return resp.Deltas(func(d chat.Delta) error {
		if d.Content == "" {
			return nil
		}
		ans.length += len(d.Content)
		if ans.length > MaxMessageContentBytes {
			return errChannelAnswerTooLong
		}
		ans.out.add(d.Content)
		return nil
	})
}

// update is the deltaSender's send: it tells the room the text so far.
func (ans *channelAnswer) update(_ string, data any) {
	td, ok := data.(textDelta)
	if !ok {
		return
	}
	ans.sent.WriteString(td.Choices[0].Delta.Content)
	if ans.ending.Load() {
		return
	}
	m := ans.reply
	m.Content = ans.sent.String()
	m.UpdatedAt = ans.a.cfg.Now().UnixNano()
	ans.tell(func() { ans.a.emit(ans.c, "message:update", m.ID, ans.wire(&m)) })
}

// finish stores the answer (with the error's text after a fault) and tells
// the room. t is nil when the task did not start.
func (ans *channelAnswer) finish(ctx context.Context, t *chat.Task, err error) {
	content := ""
	if ans.out != nil {
		ans.ending.Store(true)
		ans.out.drain()
		content = ans.sent.String()
	}
	meta := answerMeta{ModelID: ans.model.ID, ModelName: ans.model.Name, Done: true}
	if err != nil && !errors.Is(err, chat.ErrTaskStopped) {
		switch {
		case t == nil, errors.Is(err, errChannelAnswerTooLong):
			meta.Error = err.Error()
		default:
			meta.Error = ans.a.taskError(ctx, t, err)
		}
		suffix := "Error: " + meta.Error
		if content != "" {
			suffix = "\n\n" + suffix
		}
		// The message, error included, stays within a message's bound.
		if over := len(content) + len(suffix) - MaxMessageContentBytes; over > 0 {
			content = runecut.Cut(content, len(content)-over)
		}
		content += suffix
	}
	metaJSON, jerr := json.Marshal(meta)
	if jerr != nil {
		ans.a.log.Error("channel answer: encode meta", "err", jerr)
		return
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), taskSaveTimeout)
	defer cancel()
	// Stored and told under ans.mu: a deletion racing the end either
	// comes first (nothing is stored: the reply is gone) or waits in end
	// until the final update is told, before its message:delete.
	ans.tell(func() {
		stored, serr := ans.a.cfg.Store.UpdateMessage(sctx, ans.reply.ID, func(m *storage.Message) error {
			m.Content, m.Meta = content, metaJSON
			return nil
		})
		if errors.Is(serr, storage.ErrNotFound) {
			return // deleted meanwhile (on another instance): nothing to tell
		} else if serr != nil {
			ans.a.log.ErrorContext(sctx, "channel answer: save", "channel", ans.c.ch.ID, "message", ans.reply.ID, "err", serr)
			return
		}
		ans.a.emit(ans.c, "message:update", stored.ID, ans.wire(stored))
	})
}

// wire is m as the room is told it: by the account that asked.
func (ans *channelAnswer) wire(m *storage.Message) wire.Message {
	out := wire.MessageOf(m)
	u := wire.UserNameOf(ans.c.s.user)
	out.User = &u
	return out
}
