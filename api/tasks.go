package api

import (
	"net/http"

	"github.com/quire/quire/chat"
	"github.com/quire/quire/storage"
)

// The task routes (protocol §5.3): list an account's running chat tasks,
// stop one, or stop a chat's. A task is its account's; admins may see and
// stop anyone's. Another account's task answers 404, as an unknown one.

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
	out := []taskJSON{}
	for _, t := range a.cfg.Tasks.List(func(t *chat.Task) bool { return t.UserID == s.user.ID }) {
		out = append(out, taskJSON{ID: t.ID, ChatID: t.ChatID, MessageID: t.MessageID, Model: t.Model, StartedAt: t.Started.Unix()})
	}
	writeJSON(w, http.StatusOK, map[string]any{"tasks": out})
}

// chatTasks: {"task_ids": [...]}, the running tasks of the chat the caller
// may control (the frontend asks after a reconnect whether to reload).
func (a *API) chatTasks(w http.ResponseWriter, r *http.Request, s *session) {
	writeJSON(w, http.StatusOK, map[string]any{"task_ids": taskIDs(a.chatTaskList(r, s))})
}

func (a *API) chatTaskList(r *http.Request, s *session) []*chat.Task {
	chatID := r.PathValue("chat_id")
	return a.cfg.Tasks.List(func(t *chat.Task) bool { return t.ChatID == chatID && mayControl(s, t) })
}

func taskIDs(ts []*chat.Task) []string {
	ids := make([]string, 0, len(ts))
	for _, t := range ts {
		ids = append(ids, t.ID)
	}
	return ids
}

// stopTask cancels the task's upstream request and answers once the task
// has saved what it had and told the sockets (chat:tasks:cancel).
func (a *API) stopTask(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("task_id")
	t, ok := a.cfg.Tasks.Get(id)
	if !ok || !mayControl(s, t) {
		writeError(w, http.StatusNotFound, "Task not found")
		return
	}
	a.stopAndWait(r, t)
	writeJSON(w, http.StatusOK, map[string]any{"status": true, "message": "Task " + id + " successfully stopped."})
}

// stopChatTasks stops every task of the chat the caller may control (the
// stock frontend's stop button): {"status": true, "task_ids": [stopped]}.
func (a *API) stopChatTasks(w http.ResponseWriter, r *http.Request, s *session) {
	ts := a.chatTaskList(r, s)
	for _, t := range ts {
		a.cfg.Tasks.Stop(t.ID)
	}
	for _, t := range ts {
		a.stopAndWait(r, t)
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": true, "task_ids": taskIDs(ts)})
}

func (a *API) stopAndWait(r *http.Request, t *chat.Task) {
	a.cfg.Tasks.Stop(t.ID)
	select {
	case <-t.Done():
	case <-r.Context().Done():
	}
}
