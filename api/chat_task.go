package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/quire/quire/chat"
	"github.com/quire/quire/storage"
	"github.com/quire/quire/wire"
)

// Task mode of POST /api/chat/completions (protocol §5.3): with session_id,
// chat_id and id the answer streams to the account's sockets as `events`,
// in the shapes the stock Open WebUI 0.11 frontend applies to the message
// (its chatEventHandler and chatCompletionEventHandler):
//
//	chat:active {active: true}
//	status {action: "reasoning", …}          while and after the model reasons
//	chat:completion {choices: [{delta: {content}}]}   the text, batched
//	chat:completion {usage}                   when the upstream counts tokens
//	chat:completion {done: true, content}     the whole answer, once
//	chat:active {active: false}
//
// Each text event carries only the new text (the frontend appends it), so
// bytes sent are linear in the answer; Open WebUI re-sends the whole
// message on every token. A stop ends with chat:tasks:cancel instead of
// done; a fault with chat:message:error {error: {content}} and
// chat:tasks:cancel (as Open WebUI's process_chat). The message is saved
// (final, partial on stop or fault, with the error) before that last event.

// Defaults of the delta batching.
const (
	ChatFlushIntervalDefault = 50 * time.Millisecond
	ChatFlushBytesDefault    = 16 << 10
	// maxTaskAnswerBytes bounds the answer a task holds; an upstream that
	// sends more is cut off with an error.
	maxTaskAnswerBytes = 32 << 20
	// maxTaskIDBytes bounds session_id, chat_id, id and parent_id.
	maxTaskIDBytes = 256
	// taskSaveTimeout bounds the final save, which runs even when the task
	// was stopped (its context ended).
	taskSaveTimeout = 10 * time.Second
)

var errAnswerTooLong = fmt.Errorf("the model's answer is longer than %d MiB", maxTaskAnswerBytes>>20)

// taskRequest is a completion request's task fields.
type taskRequest struct {
	sessionID, chatID, messageID, parentID string
	// title, when set, is announced (chat:title) as the answer ends: the
	// chat was titled after this question (prepareTaskChat).
	title string
	// prefix is the stored answer a "continue" request goes on from: the
	// task's answer starts with it (prepareTaskChat).
	prefix string
	// claim is the task, listed but not started (prepareTaskChat).
	claim *chat.Task
}

// parseTaskRequest reads the task fields, or says what is wrong with them.
func parseTaskRequest(in map[string]json.RawMessage) (*taskRequest, string) {
	var t taskRequest
	for _, f := range []struct {
		key      string
		to       *string
		optional bool
	}{{"session_id", &t.sessionID, false}, {"chat_id", &t.chatID, true}, {"id", &t.messageID, false}, {"parent_id", &t.parentID, true}} {
		raw, ok := in[f.key]
		if f.optional && (!ok || string(raw) == "null") {
			continue
		}
		if json.Unmarshal(raw, f.to) != nil || *f.to == "" || len(*f.to) > maxTaskIDBytes {
			return nil, fmt.Sprintf("%s must be a non-empty string of at most %d bytes", f.key, maxTaskIDBytes)
		}
	}
	if strings.HasPrefix(t.chatID, "channel:") {
		return nil, "chat_id: answers into channels are not streamed here"
	}
	return &t, ""
}

// addUserMessage: for a saved chat, the stock 0.11 frontend sends no
// conversation (at most the system prompt), only user_message, the
// question, and expects the server to read the rest from the stored chat
// (prepareTaskChat does, and replaces what this made). Here the question
// is appended to what was sent, so that the request is checked whole, and
// so that a chat with no stored history still gets its question.
func (t *taskRequest) addUserMessage(in map[string]json.RawMessage) error {
	var msgs []struct {
		Role string `json:"role"`
	}
	if raw, ok := in["messages"]; ok && string(raw) != "null" && json.Unmarshal(raw, &msgs) != nil {
		return errors.New("messages must be an array of messages")
	}
	for _, m := range msgs {
		if m.Role != "system" {
			return nil // a conversation was sent
		}
	}
	var um struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	}
	if raw, ok := in["user_message"]; !ok || json.Unmarshal(raw, &um) != nil || um.Role != "user" || len(um.Content) == 0 {
		return nil // nothing to add: messages is checked next
	}
	all := []json.RawMessage{}
	if raw, ok := in["messages"]; ok && string(raw) != "null" {
		_ = json.Unmarshal(raw, &all) // checked above
	}
	q, err := json.Marshal(map[string]json.RawMessage{"role": json.RawMessage(`"user"`), "content": um.Content})
	if err != nil {
		return errors.New("user_message.content is not valid JSON")
	}
	all = append(all, q)
	b, err := json.Marshal(all)
	if err != nil {
		return errors.New("messages must be an array of messages")
	}
	in["messages"] = b
	return nil
}

// savedChat: Open WebUI's temporary chats (local:…, temporary:…) live in
// the browser only.
func savedChat(chatID string) bool {
	return !strings.HasPrefix(chatID, "local:") && !strings.HasPrefix(chatID, "temporary:")
}

// checkTaskSession answers 400 unless session_id is a live socket of the
// caller, and reports whether it is.
func (a *API) checkTaskSession(w http.ResponseWriter, r *http.Request, s *session, req *taskRequest) bool {
	owns := false
	if a.cfg.Events != nil {
		var err error
		if owns, err = a.cfg.Events.OwnsSession(r.Context(), s.user.ID, req.sessionID); err != nil {
			a.internalError(w, r, "check session", err)
			return false
		}
	}
	if !owns {
		writeError(w, http.StatusBadRequest, "session_id is not a live socket of this account; reconnect and try again")
	}
	return owns
}

// startChatTask starts the task prepareTaskChat claimed; the answer is
// {"status": true, "task_id", "chat_id"} at once.
func (a *API) startChatTask(w http.ResponseWriter, req *taskRequest, up int, body []byte) {
	t := req.claim
	a.cfg.Tasks.Start(t, func(ctx context.Context, t *chat.Task) { a.runChatTask(ctx, t, req, up, body) })
	writeJSON(w, http.StatusOK, map[string]any{"status": true, "task_id": t.ID, "chat_id": req.chatID})
}

// chatTask is one running task's answer so far.
type chatTask struct {
	a        *API
	t        *chat.Task
	parentID string
	title    string // announced at the end, when set
	out      *deltaSender

	content   strings.Builder
	reasoning strings.Builder
	// thinking is when reasoning began; thought how long it took, once
	// the answer's text began.
	thinking time.Time
	thought  time.Duration
	usage    json.RawMessage
}

func (a *API) runChatTask(ctx context.Context, t *chat.Task, req *taskRequest, up int, body []byte) {
	ct := &chatTask{a: a, t: t, parentID: req.parentID, title: req.title}
	ct.content.WriteString(req.prefix)
	ct.out = newDeltaSender(a.cfg.ChatFlushInterval, a.cfg.ChatFlushBytes, ct.emit)
	ct.out.event("chat:active", map[string]bool{"active": true})
	err := ct.stream(ctx, up, body)
	ct.finish(ctx, err)
}

func (ct *chatTask) stream(ctx context.Context, up int, body []byte) error {
	resp, err := ct.a.cfg.Chat.Complete(ctx, up, body, true)
	if err != nil {
		return err
	}
	defer resp.Close()
	return resp.Deltas(ct.add)
}

// add takes one chunk's delta.
func (ct *chatTask) add(d chat.Delta) error {
	if ct.content.Len()+ct.reasoning.Len()+len(d.Content)+len(d.Reasoning) > maxTaskAnswerBytes {
		return errAnswerTooLong
	}
	if d.Reasoning != "" {
		if ct.thinking.IsZero() {
			ct.thinking = time.Now()
			ct.out.event("status", map[string]any{"action": "reasoning", "description": "Thinking…", "done": false})
		}
		ct.reasoning.WriteString(d.Reasoning)
	}
	if d.Content != "" {
		ct.endThinking()
		ct.content.WriteString(d.Content)
		ct.out.add(d.Content)
	}
	if d.Usage != nil {
		ct.usage = d.Usage
	}
	return nil
}

// endThinking closes the reasoning status once the answer's text begins
// (or the answer ends).
func (ct *chatTask) endThinking() {
	if ct.thinking.IsZero() || ct.thought != 0 {
		return
	}
	ct.thought = max(time.Since(ct.thinking), time.Nanosecond)
	ct.out.event("status", map[string]any{"action": "reasoning", "done": true,
		"description": fmt.Sprintf("Thought for %d seconds", int(ct.thought.Seconds()))})
}

// answer is the message as stored: the reasoning, if any, as the
// collapsible block Open WebUI's renderer knows, then the text.
func (ct *chatTask) answer() string {
	if ct.reasoning.Len() == 0 {
		return ct.content.String()
	}
	secs := int(ct.thought.Seconds())
	var b strings.Builder
	b.Grow(ct.reasoning.Len() + ct.content.Len() + 160)
	fmt.Fprintf(&b, "<details type=\"reasoning\" done=\"true\" duration=\"%d\">\n<summary>Thought for %d seconds</summary>\n> ", secs, secs)
	b.WriteString(strings.ReplaceAll(ct.reasoning.String(), "\n", "\n> "))
	b.WriteString("\n</details>\n")
	b.WriteString(ct.content.String())
	return b.String()
}

// finish saves the message and tells the sockets how the task ended.
func (ct *chatTask) finish(ctx context.Context, err error) {
	ct.endThinking()
	ct.out.drain()
	m := AssistantMessage{Content: ct.answer(), Done: true, Model: ct.t.Model, ParentID: ct.parentID, Stored: true, Fit: true}
	stopped := errors.Is(err, chat.ErrTaskStopped)
	if err != nil && !stopped {
		m.Error = ct.a.taskError(ctx, ct.t, err)
	}
	if savedChat(ct.t.ChatID) {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), taskSaveTimeout)
		switch serr := ct.a.saveAssistantMessage(sctx, ct.t.UserID, ct.t.ChatID, ct.t.MessageID, &m); {
		case errors.Is(serr, errAnswerGone), errors.Is(serr, storage.ErrNotFound):
			// The answer or its chat was deleted meanwhile: not brought back.
			ct.a.log.DebugContext(sctx, "chat task's answer is gone", "user", ct.t.UserID, "chat", ct.t.ChatID, "err", serr)
		case serr != nil:
			ct.a.log.ErrorContext(sctx, "saving a chat task's answer failed", "user", ct.t.UserID, "chat", ct.t.ChatID, "err", serr)
		}
		cancel()
	}
	// m is what was stored: its error may be the save's (cut to fit).
	switch {
	case m.Error != "":
		ct.out.event("chat:message:error", map[string]any{"error": map[string]string{"content": m.Error}})
		ct.out.event("chat:tasks:cancel", nil)
	case stopped:
		ct.out.event("chat:tasks:cancel", nil)
	default:
		if ct.usage != nil {
			ct.out.event("chat:completion", map[string]json.RawMessage{"usage": ct.usage})
		}
		ct.out.event("chat:completion", map[string]any{"done": true, "content": m.Content})
	}
	if ct.title != "" {
		ct.out.event("chat:title", ct.title)
	}
	ct.out.event("chat:active", map[string]bool{"active": false})
}

// taskError is the message shown for a failed task: the chat package's
// errors are written for users; anything else is logged and summarised.
func (a *API) taskError(ctx context.Context, t *chat.Task, err error) string {
	var ue *chat.UpstreamError
	var se *chat.StreamError
	switch {
	case errors.As(err, &ue), errors.As(err, &se), errors.Is(err, errAnswerTooLong),
		errors.Is(err, chat.ErrUnreachable), errors.Is(err, chat.ErrNoAnswer), errors.Is(err, chat.ErrNotStream),
		errors.Is(err, chat.ErrStalled), errors.Is(err, chat.ErrTruncated), errors.Is(err, chat.ErrLineTooLong),
		errors.Is(err, chat.ErrStopped):
		return err.Error()
	}
	a.log.ErrorContext(ctx, "chat task failed", "user", t.UserID, "chat", t.ChatID, "err", err)
	return "the answer failed"
}

// emit sends one event of the task to the account's sockets.
func (ct *chatTask) emit(typ string, data any) {
	ev := ct.a.cfg.Events
	if ev == nil {
		return
	}
	b, err := json.Marshal(wire.ChatEvent{ChatID: ct.t.ChatID, MessageID: ct.t.MessageID, Data: wire.EventData{Type: typ, Data: data}})
	if err == nil {
		err = ev.EmitToUser(ct.t.UserID, "events", b)
	}
	if err != nil {
		ct.a.log.Debug("chat task event not sent", "user", ct.t.UserID, "type", typ, "err", err)
	}
}

// deltaSender batches a task's text: the first piece goes out at once,
// later ones at most once per interval (or sooner once maxBytes wait), so
// a fast upstream does not cost a socket message per token. The task's
// other events go through it too, after the text that came before them:
// one lock orders everything the task sends.
type deltaSender struct {
	interval time.Duration
	maxBytes int
	send     func(typ string, data any)

	// now and afterFunc are the clock (time.Now, time.AfterFunc; tests
	// put in one they control).
	now       func() time.Time
	afterFunc func(time.Duration, func()) stopper

	mu      sync.Mutex
	pending strings.Builder
	last    time.Time // of the last text sent
	timer   stopper   // armed while text waits
}

// stopper is an armed timer (*time.Timer).
type stopper interface{ Stop() bool }

func newDeltaSender(interval time.Duration, maxBytes int, send func(string, any)) *deltaSender {
	return &deltaSender{interval: interval, maxBytes: maxBytes, send: send, now: time.Now,
		afterFunc: func(d time.Duration, f func()) stopper { return time.AfterFunc(d, f) }}
}

// textDelta is the chat:completion data the frontend appends to the
// message (chatCompletionEventHandler: choices[0].delta.content).
type textDelta struct {
	Choices [1]struct {
		Delta struct {
			Content string `json:"content"`
		} `json:"delta"`
	} `json:"choices"`
}

func (d *deltaSender) add(text string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.pending.WriteString(text)
	wait := d.interval - d.now().Sub(d.last)
	if wait <= 0 || d.pending.Len() >= d.maxBytes {
		d.flushLocked()
		return
	}
	if d.timer == nil {
		d.timer = d.afterFunc(wait, d.tick)
	}
}

// tick sends what waits, unless text went out meanwhile (a chunk came
// after the interval but before the timer ran, or reached the size
// bound): then it waits out the interval again, rather than send a second
// event right after that one.
func (d *deltaSender) tick() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.timer = nil
	if d.pending.Len() == 0 {
		return
	}
	if wait := d.interval - d.now().Sub(d.last); wait > 0 {
		d.timer = d.afterFunc(wait, d.tick)
		return
	}
	d.flushLocked()
}

func (d *deltaSender) flushLocked() {
	if d.pending.Len() == 0 {
		return
	}
	var td textDelta
	td.Choices[0].Delta.Content = d.pending.String()
	d.pending.Reset()
	d.last = d.now()
	d.send("chat:completion", td)
}

// event sends an event after the text waiting before it.
func (d *deltaSender) event(typ string, data any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.flushLocked()
	d.send(typ, data)
}

// drain sends what waits and disarms the timer.
func (d *deltaSender) drain() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
	d.flushLocked()
}
