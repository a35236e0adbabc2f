package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/quire/quire/chat"
)

// MaxChatBodyBytes caps a completion request (long conversations, images).
const MaxChatBodyBytes = 8 << 20

// maxJSONAnswerBytes caps a non-streamed upstream answer that is relayed.
const maxJSONAnswerBytes = 32 << 20

// forwarded are the OpenAI request fields sent upstream; Open WebUI's own
// fields (session_id, chat_id, files, features, model_item, …) are not.
var forwarded = []string{
	"model", "messages", "stream", "stream_options", "temperature", "top_p", "max_tokens",
	"max_completion_tokens", "stop", "presence_penalty", "frequency_penalty", "seed", "n",
	"logit_bias", "logprobs", "top_logprobs", "response_format", "tools", "tool_choice",
	"parallel_tool_calls", "reasoning_effort", "user",
}

// fromParams are the fields Open WebUI may send inside "params" instead.
var fromParams = []string{
	"temperature", "top_p", "max_tokens", "max_completion_tokens", "stop",
	"presence_penalty", "frequency_penalty", "seed", "logit_bias", "reasoning_effort",
}

func (a *API) registerChat(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/models", a.authed(a.listModels))
	mux.HandleFunc("GET /api/models/{$}", a.authed(a.listModels))
	mux.HandleFunc("POST /api/chat/completions", a.authed(a.chatCompletions))
}

func (a *API) listModels(w http.ResponseWriter, r *http.Request, _ *session) {
	models := []chat.Model{}
	if a.cfg.Chat != nil {
		models = append(models, a.cfg.Chat.Models(r.Context())...)
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": models})
}

func (a *API) chatCompletions(w http.ResponseWriter, r *http.Request, s *session) {
	var in map[string]json.RawMessage
	if !readJSON(w, r, MaxChatBodyBytes, &in) {
		return
	}
	var task *taskRequest
	if taskMode(in) {
		if !present(in, "chat_id") {
			delete(in, "chat_id") // a new chat: the server makes it
		}
		var msg string
		if task, msg = parseTaskRequest(in); task == nil {
			writeError(w, http.StatusBadRequest, msg)
			return
		}
	}
	var model string
	if json.Unmarshal(in["model"], &model) != nil || model == "" {
		writeError(w, http.StatusBadRequest, "model must be a non-empty string")
		return
	}
	sent := false // a conversation, not just system prompts
	var question *userMessage
	if task != nil {
		var msg string
		if question, msg = parseUserMessage(in); msg != "" {
			writeError(w, http.StatusBadRequest, msg)
			return
		}
		sent = sentConversation(in)
		if err := task.addUserMessage(in); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	var msgs []json.RawMessage
	if json.Unmarshal(in["messages"], &msgs) != nil || len(msgs) == 0 {
		writeError(w, http.StatusBadRequest, "messages must be a non-empty array")
		return
	}
	var stream bool
	if raw, ok := in["stream"]; ok && string(raw) != "null" && json.Unmarshal(raw, &stream) != nil {
		writeError(w, http.StatusBadRequest, "stream must be true or false")
		return
	}
	if a.cfg.Chat == nil {
		writeError(w, http.StatusNotFound, "Model not found")
		return
	}
	up, ok := a.cfg.Chat.Lookup(r.Context(), model)
	if !ok {
		writeError(w, http.StatusNotFound, "Model not found")
		return
	}
	if task != nil && (!a.checkTaskSession(w, r, s, task) || !a.prepareTaskChat(w, r, s, task, question, in, model, sent)) {
		return
	}
	if task != nil {
		// Claimed by prepareTaskChat: started below, else released.
		defer func() {
			if task.claim != nil {
				a.cfg.Tasks.Release(task.claim)
			}
		}()
	}
	out := map[string]json.RawMessage{}
	for _, k := range forwarded {
		if v, ok := in[k]; ok && string(v) != "null" {
			out[k] = v
		}
	}
	var params map[string]json.RawMessage
	if json.Unmarshal(in["params"], &params) == nil {
		for _, k := range fromParams {
			if v, ok := params[k]; ok && string(v) != "null" && out[k] == nil {
				out[k] = v
			}
		}
	}
	out["stream"] = json.RawMessage("false")
	if stream || task != nil { // a task always streams: it relays deltas
		out["stream"] = json.RawMessage("true")
	}
	body, err := json.Marshal(out)
	if err != nil {
		writeError(w, http.StatusBadRequest, "request body is not valid JSON")
		return
	}

	if task != nil {
		a.startChatTask(w, task, up, body)
		task.claim = nil
		return
	}
	resp, err := a.cfg.Chat.Complete(r.Context(), up, body, stream)
	if err != nil {
		a.completionError(w, r, err)
		return
	}
	defer resp.Close()
	if !stream {
		a.relayJSON(w, r, s, model, resp)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx would hold the events back
	w.WriteHeader(http.StatusOK)
	cw := &clientWriter{w: w, rc: http.NewResponseController(w), timeout: a.cfg.Chat.IdleTimeout()}
	if err := resp.Relay(cw, cw.Flush); err != nil {
		a.log.DebugContext(r.Context(), "completion stream ended early", "user", s.user.ID, "model", model, "err", err)
	}
}

// relayJSON copies a JSON answer to the client. Its headers go out with
// the first bytes, so a failure after them (the upstream breaks off, the
// server stops, the answer is over maxJSONAnswerBytes) aborts the response:
// the client sees a broken response rather than a whole-looking 200 with
// part of a document.
func (a *API) relayJSON(w http.ResponseWriter, r *http.Request, s *session, model string, resp *chat.Response) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	cw := &clientWriter{w: w, rc: http.NewResponseController(w), timeout: a.cfg.Chat.IdleTimeout()}
	n, err := io.Copy(cw, io.LimitReader(resp.Body, maxJSONAnswerBytes+1))
	if err == nil && n <= maxJSONAnswerBytes {
		return
	}
	if r.Context().Err() != nil {
		return // the client left
	}
	if err == nil {
		err = fmt.Errorf("the answer is longer than %d MiB", maxJSONAnswerBytes>>20)
	}
	a.log.WarnContext(r.Context(), "completion answer cut off", "user", s.user.ID, "model", model, "err", err)
	panic(http.ErrAbortHandler)
}

// clientWriter bounds each write of a stream to the client by the idle
// timeout, as the upstream's lines are: a client that takes nothing for
// that long (its connection open, its reads stopped) is cut, rather than
// hold the handler, and the server's shutdown, for as long as it lives.
type clientWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
}

func (c *clientWriter) Write(p []byte) (int, error) {
	_ = c.rc.SetWriteDeadline(time.Now().Add(c.timeout))
	return c.w.Write(p)
}

func (c *clientWriter) Flush() error {
	_ = c.rc.SetWriteDeadline(time.Now().Add(c.timeout))
	return c.rc.Flush()
}

// completionError answers a completion that failed before any byte was
// sent: the upstream's client errors keep their status (the request was
// wrong); its own faults, and its refusal of our key, are 502.
func (a *API) completionError(w http.ResponseWriter, r *http.Request, err error) {
	var ue *chat.UpstreamError
	switch {
	case errors.As(err, &ue):
		status := http.StatusBadGateway
		switch ue.Status {
		case http.StatusBadRequest, http.StatusNotFound, http.StatusRequestEntityTooLarge,
			http.StatusUnprocessableEntity, http.StatusTooManyRequests:
			status = ue.Status
		}
		writeError(w, status, ue.Error())
	case errors.Is(err, chat.ErrStopped):
		writeError(w, http.StatusServiceUnavailable, err.Error())
	case errors.Is(err, chat.ErrNoAnswer):
		writeError(w, http.StatusGatewayTimeout, err.Error())
	case errors.Is(err, chat.ErrUnreachable), errors.Is(err, chat.ErrNotStream):
		writeError(w, http.StatusBadGateway, err.Error())
	case r.Context().Err() != nil: // the client left
	default:
		a.internalError(w, r, "chat completion", err)
	}
}

// present reports whether body field k is set to something other than
// null or "".
func present(in map[string]json.RawMessage, k string) bool {
	v, ok := in[k]
	return ok && !bytes.Equal(v, []byte("null")) && !bytes.Equal(v, []byte(`""`))
}
