package api

import (
	"errors"
	"net/http"

	"github.com/quire/quire/chat"
	"github.com/quire/quire/storage"
)

// The task routes (protocol §5.3): list an account's running chat tasks,
// stop one, or stop a chat's. A task is its account's; admins may see and
// stop anyone's. Another account's task answers 404, as an unknown one.
// With several instances the registry is shared (chat.TasksRedis): any
// instance lists and stops any instance's tasks.

func (a *API) registerTasks(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/tasks", a.authed(a.listTasks))
	mux.HandleFunc("GET /api/tasks/{$}", a.authed(a.listTasks))
	mux.HandleFunc("POST /api/tasks/stop/{task_id}", a.authed(a.stopTask))
	mux.HandleFunc("GET /api/tasks/chat/{chat_id}", a.authed(a.chatTasks))
	mux.HandleFunc("POST /api/tasks/chat/{chat_id}/stop", a.authed(a.stopChatTasks))
}

// mayControl: the task's account, or an admin.
func mayControl(s *session, t *chat.Task) bool {
	return t.UserID == s.user.ID || s.user.Role == storage.RoleAdmin
}

type taskJSON struct {
	ID        string `json:"id"`
	ChatID    string `json:"chat_id"`
	MessageID string `json:"message_id"`
	Model     string `json:"model"`
	StartedAt int64  `json:"started_at"` // Unix seconds
}

// listTasks: {"tasks": [{id, chat_id, message_id, model, started_at}]},
// the caller's own running tasks, oldest first.
func (a *API) listTasks(w http.ResponseWriter, r *http.Request, s *session) {
	ts, err := a.cfg.Tasks.List(r.Context(), func(t *chat.Task) bool { return t.UserID == s.user.ID })
	if err != nil {
		a.internalError(w, r, "list tasks", err)
		return
	}
	out := []taskJSON{}
	for _, t := range ts {
		out = append(out, taskJSON{ID: t.ID, ChatID: t.ChatID, MessageID: t.MessageID, Model: t.Model, StartedAt: t.Started.Unix()})
	}
	writeJSON(w, http.StatusOK, map[string]any{"tasks": out})
}

// chatTasks: {"task_ids": [...]}, the running tasks of the chat the caller
// may control (the frontend asks after a reconnect whether to reload).
func (a *API) chatTasks(w http.ResponseWriter, r *http.Request, s *session) {
	ts, ok := a.chatTaskList(w, r, s)
	if ok {
		writeJSON(w, http.StatusOK, map[string]any{"task_ids": chat.IDs(ts)})
	}
}

func (a *API) chatTaskList(w http.ResponseWriter, r *http.Request, s *session) ([]*chat.Task, bool) {
	chatID := r.PathValue("chat_id")
	ts, err := a.cfg.Tasks.List(r.Context(), func(t *chat.Task) bool { return t.ChatID == chatID && mayControl(s, t) })
	if err != nil {
		a.internalError(w, r, "list tasks", err)
		return nil, false
	}
	return ts, true
}

// stopTask cancels the task's upstream request and answers once the task
// has saved what it had and told the sockets (chat:tasks:cancel), on
// whichever instance runs it.
func (a *API) stopTask(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("task_id")
	t, err := a.cfg.Tasks.Get(r.Context(), id)
	if errors.Is(err, chat.ErrNoTask) || (err == nil && !mayControl(s, t)) {
		writeError(w, http.StatusNotFound, "Task not found")
		return
	} else if err != nil {
		a.internalError(w, r, "get task", err)
		return
	}
	if !a.stopTasks(w, r, []*chat.Task{t}) {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": true, "message": "Task " + id + " successfully stopped."})
}

// stopChatTasks stops every task of the chat the caller may control (the
// stock frontend's stop button): {"status": true, "task_ids": [stopped]}.
func (a *API) stopChatTasks(w http.ResponseWriter, r *http.Request, s *session) {
	ts, ok := a.chatTaskList(w, r, s)
	if ok && a.stopTasks(w, r, ts) {
		writeJSON(w, http.StatusOK, map[string]any{"status": true, "task_ids": chat.IDs(ts)})
	}
}

// stopTasks stops ts and waits until they ended; false when it answered.
func (a *API) stopTasks(w http.ResponseWriter, r *http.Request, ts []*chat.Task) bool {
	err := a.cfg.Tasks.Stop(r.Context(), chat.ErrTaskStopped, chat.IDs(ts)...)
	if err != nil && r.Context().Err() == nil {
		a.internalError(w, r, "stop tasks", err)
		return false
	}
	return true
}
