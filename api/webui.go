package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"html"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/quire/quire/storage"
)

// What the stock Open WebUI frontend needs besides notes, channels and
// chat: its boot configuration, the version its socket handler awaits,
// per-account settings, avatars, and valid empty answers for the features
// Quire does not have (so the app shell loads without errors).

func (a *API) registerWebUI(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/config", a.appConfig)
	mux.HandleFunc("GET /api/version", a.version)
	mux.HandleFunc("GET /api/changelog", a.authed(emptyObject))

	mux.HandleFunc("POST /api/v1/auths/update/timezone", a.authed(a.updateTimezone))
	mux.HandleFunc("GET /api/v1/users/user/settings", a.authed(a.userSettings))
	mux.HandleFunc("POST /api/v1/users/user/settings/update", a.authed(a.updateUserSettings))
	mux.HandleFunc("GET /api/v1/users/{id}/info", a.authed(a.userInfo))
	mux.HandleFunc("GET /api/v1/users/{id}/profile/image", a.authed(a.profileImage))
	mux.HandleFunc("GET /api/v1/models/model/profile/image", a.authed(modelImage))

	// Features Quire does not have: nothing to list. (Groups are not
	// modelled: a note is shared with users only.)
	for _, p := range []string{
		"GET /api/v1/configs/banners", "GET /api/v1/tools/{$}", "GET /api/v1/terminals/{$}",
		"GET /api/v1/groups/{$}", "GET /api/v1/folders/{$}", "GET /api/v1/functions/{$}",
		"GET /api/v1/skills/{$}",
	} {
		mux.HandleFunc(p, a.authed(emptyList))
	}
}

func emptyList(w http.ResponseWriter, _ *http.Request, _ *session) {
	writeJSON(w, http.StatusOK, []any{})
}

func emptyObject(w http.ResponseWriter, _ *http.Request, _ *session) {
	writeJSON(w, http.StatusOK, map[string]any{})
}

// appConfig answers GET /api/config, Open WebUI's boot configuration,
// which the frontend fetches with its cookie only (a token in the
// Authorization header works too). Everyone gets the features of the
// sign-in page, and onboarding while no account exists; a pending account
// also the texts of its waiting overlay; a user or admin the app's
// fields: the frontend reads several of them without guards. A token that
// does not verify counts as none, so a stale cookie cannot keep the app
// from booting.
func (a *API) appConfig(w http.ResponseWriter, r *http.Request) {
	u := a.optionalUser(r)
	users, err := a.accountCount(r.Context())
	if err != nil {
		a.internalError(w, r, "count accounts", err)
		return
	}
	features := map[string]any{
		"auth":                                true,
		"auth_trusted_header":                 false,
		"enable_signup_password_confirmation": false,
		"enable_ldap":                         false,
		"enable_api_keys":                     false,
		"enable_signup":                       !a.cfg.SignupDisabled || users == 0,
		"enable_login_form":                   true,
		"enable_websocket":                    true,
		"enable_version_update_check":         false,
		"enable_public_active_users_count":    false,
		"enable_easter_eggs":                  false,
	}
	cfg := map[string]any{
		"status":         true,
		"name":           a.cfg.Name,
		"version":        a.cfg.Version,
		"default_locale": "",
		"oauth":          map[string]any{"providers": map[string]any{}},
		"features":       features,
	}
	if u == nil && users == 0 {
		cfg["onboarding"] = true
	}
	if u == nil {
		writeJSON(w, http.StatusOK, cfg)
		return
	}
	if u.Role == storage.RolePending {
		cfg["ui"] = map[string]any{"pending_user_overlay_title": "", "pending_user_overlay_content": ""}
		writeJSON(w, http.StatusOK, cfg)
		return
	}
	for k, v := range map[string]any{
		"enable_direct_connections": false, "enable_folders": false, "folder_max_file_count": nil,
		"enable_channels": true, "enable_notes": true, "enable_web_search": false,
		"enable_code_execution": false, "enable_code_interpreter": false, "enable_image_generation": false,
		"enable_autocomplete_generation": false, "enable_community_sharing": false,
		"enable_message_rating": false, "enable_user_webhooks": false, "enable_user_status": false,
		"enable_admin_export": false, "enable_admin_chat_access": false, "enable_admin_analytics": false,
		"enable_google_drive_integration": false, "enable_onedrive_integration": false,
		"enable_memories": false,
	} {
		features[k] = v
	}
	for k, v := range map[string]any{
		"default_models":             "",
		"default_pinned_models":      "",
		"default_prompt_suggestions": []any{},
		"user_count":                 users,
		"code":                       map[string]any{"engine": "", "interpreter_engine": ""},
		"audio": map[string]any{
			"tts": map[string]any{"engine": "", "voice": "", "split_on": "punctuation"},
			"stt": map[string]any{"engine": ""},
		},
		"file": map[string]any{
			"max_size": nil, "max_count": nil,
			"image_compression": map[string]any{"width": nil, "height": nil},
		},
		"permissions":  userPermissions(),
		"google_drive": map[string]any{"client_id": "", "api_key": ""},
		"onedrive": map[string]any{"client_id_personal": "", "client_id_business": "",
			"sharepoint_url": "", "sharepoint_tenant_id": ""},
		"ui": map[string]any{"pending_user_overlay_title": "", "pending_user_overlay_content": "",
			"response_watermark": ""},
		"license_metadata": nil,
	} {
		cfg[k] = v
	}
	writeJSON(w, http.StatusOK, cfg)
}

// accountCount counts the accounts. Accounts are never deleted, so once
// there is one the count is only needed for user_count.
func (a *API) accountCount(ctx context.Context) (int, error) {
	_, n, err := a.cfg.Store.SearchUsers(ctx, storage.SearchUsersOptions{Limit: 1})
	return n, err
}

// version answers GET /api/version for anyone. The frontend's socket
// connect handler awaits it before it joins, and reloads the page when
// either value changes between two connects, so both stay fixed for a
// given build (a restart of the same build reloads nothing).
func (a *API) version(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"version": a.cfg.Version, "deployment_id": "quire-" + a.cfg.Version})
}

// permissions is Open WebUI's permission tree, by section.
type permissions map[string]map[string]bool

// userPermissions is what every account may do in the frontend, as Open
// WebUI's USER_PERMISSIONS: write and share notes with users, use
// channels, chat; nothing Quire does not serve (workspace, public
// sharing, tools, files). Admins are not limited by it in the frontend.
func userPermissions() permissions {
	return permissions{
		"workspace": {
			"models": false, "knowledge": false, "prompts": false, "tools": false, "skills": false,
			"models_import": false, "models_export": false, "prompts_import": false, "prompts_export": false,
			"tools_import": false, "tools_export": false, "skills_import": false, "skills_export": false,
		},
		"sharing": {
			"notes": true, "public_notes": false, "models": false, "public_models": false,
			"knowledge": false, "public_knowledge": false, "prompts": false, "public_prompts": false,
			"tools": false, "public_tools": false, "skills": false, "public_skills": false,
			"public_chats": false, "open_chats": false, "folders": false,
		},
		"access_grants": {"allow_users": true, "allow_groups": false},
		"chat": {
			"controls": true, "valves": false, "system_prompt": true, "params": true,
			"file_upload": false, "web_upload": false, "delete": true, "delete_message": true,
			"continue_response": true, "regenerate_response": true, "rate_response": false,
			"edit": true, "share": false, "export": true, "import": false, "stt": false, "tts": false,
			"call": false, "multiple_models": false, "temporary": true, "temporary_enforced": false,
		},
		"features": {
			"notes": true, "channels": true, "folders": false, "api_keys": false,
			"direct_tool_servers": false, "web_search": false, "image_generation": false,
			"code_interpreter": false, "memories": false, "automations": false, "calendar": false,
			"webhooks": false,
		},
		"settings": {"interface": true},
	}
}

type timezoneForm struct {
	Timezone *string `json:"timezone"`
}

// maxTimezoneBytes bounds a time zone name (IANA names are short).
const maxTimezoneBytes = 64

// updateTimezone answers the frontend's POST /api/v1/auths/update/timezone
// after each sign-in and load. Quire keeps no per-account time zone (it
// formats no dates server-side), so a well-formed name is acknowledged and
// not stored.
func (a *API) updateTimezone(w http.ResponseWriter, r *http.Request, _ *session) {
	var f timezoneForm
	if !readJSON(w, r, a.cfg.MaxAuthBodyBytes, &f) {
		return
	}
	if f.Timezone == nil || !timezoneName(*f.Timezone) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("timezone must be a time zone name such as Europe/Paris (at most %d bytes)", maxTimezoneBytes))
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"status": true})
}

// timezoneName reports whether tz looks like an IANA time zone name
// (checked by shape: the host may have no time zone database).
func timezoneName(tz string) bool {
	if tz == "" || len(tz) > maxTimezoneBytes {
		return false
	}
	for _, r := range tz {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/_+-", r)) {
			return false
		}
	}
	return true
}

// maxSettingsBytes caps an account's stored settings.
const maxSettingsBytes = 256 << 10

// userSettings answers GET /api/v1/users/user/settings: the settings the
// account stored, or {"ui": {}} before it stored any.
func (a *API) userSettings(w http.ResponseWriter, r *http.Request, s *session) {
	raw, err := a.cfg.Store.GetUserSettings(r.Context(), s.user.ID)
	if err != nil {
		a.internalError(w, r, "get user settings", err)
		return
	}
	if raw == nil {
		raw = json.RawMessage(`{"ui":{}}`)
	}
	writeJSON(w, http.StatusOK, raw)
}

// updateUserSettings answers POST /api/v1/users/user/settings/update: the
// body (a JSON object, as Open WebUI's UserSettings: ui and the rest)
// replaces the stored settings, and is answered back.
func (a *API) updateUserSettings(w http.ResponseWriter, r *http.Request, s *session) {
	var f object
	if !readJSON(w, r, maxSettingsBytes, &f) {
		return
	}
	if f == nil {
		writeError(w, http.StatusBadRequest, "request body must be a JSON object")
		return
	}
	if ui, ok := f["ui"]; ok && ui != nil {
		if _, ok := ui.(map[string]any); !ok {
			writeError(w, http.StatusBadRequest, "ui must be an object")
			return
		}
	}
	if !cleanValue(map[string]any(f)) {
		writeError(w, http.StatusBadRequest, "settings must not contain NUL characters or numbers beyond double precision")
		return
	}
	raw, err := marshalObject(f)
	if err != nil {
		a.internalError(w, r, "encode settings", err)
		return
	}
	if err := a.cfg.Store.SetUserSettings(r.Context(), s.user.ID, raw); err != nil {
		a.internalError(w, r, "set user settings", err)
		return
	}
	writeJSON(w, http.StatusOK, json.RawMessage(raw))
}

// userInfo answers GET /api/v1/users/{id}/info (the share dialog's rows):
// who the account is, its email only to admins and itself (the search
// rule: nobody else lists emails by id).
func (a *API) userInfo(w http.ResponseWriter, r *http.Request, s *session) {
	u := a.pathUser(w, r)
	if u == nil {
		return
	}
	writeJSON(w, http.StatusOK, newSearchUser(u, s.user.Role == storage.RoleAdmin || s.user.ID == u.ID))
}

// pathUser loads the account named by {id}; otherwise it answers 404 and
// returns nil.
func (a *API) pathUser(w http.ResponseWriter, r *http.Request) *storage.User {
	id, ok := pathID(w, r, "id")
	if !ok {
		return nil
	}
	u, err := a.cfg.Store.GetUser(r.Context(), id)
	if errors.Is(err, storage.ErrNotFound) {
		writeError(w, http.StatusNotFound, msgNotFound)
		return nil
	} else if err != nil {
		a.internalError(w, r, "get user", err)
		return nil
	}
	return u
}

// profileImageURL is where the frontend finds an account's avatar.
func profileImageURL(userID string) string {
	return "/api/v1/users/" + userID + "/profile/image"
}

// profileImage answers an account's avatar (the frontend's <img>, sent
// with the cookie): Quire stores no pictures, so it draws the name's
// first letter on a colour of the account id.
func (a *API) profileImage(w http.ResponseWriter, r *http.Request, _ *session) {
	u := a.pathUser(w, r)
	if u == nil {
		return
	}
	writeSVG(w, avatarSVG(u.Name, u.ID))
}

// modelImage answers a model's avatar (GET
// /api/v1/models/model/profile/image?id=): one neutral picture.
func modelImage(w http.ResponseWriter, _ *http.Request, _ *session) {
	writeSVG(w, `<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">`+
		`<rect width="64" height="64" rx="32" fill="#6b7280"/>`+
		`<circle cx="32" cy="32" r="12" fill="none" stroke="#fff" stroke-width="4"/></svg>`)
}

// writeSVG sends a generated picture. Its own policy forbids any script
// or fetch, should someone open it directly.
func writeSVG(w http.ResponseWriter, svg string) {
	h := w.Header()
	h.Set("Content-Type", "image/svg+xml")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	h.Set("Cache-Control", "private, max-age=300")
	_, _ = w.Write([]byte(svg))
}

// avatarSVG draws initial on a colour derived from seed.
func avatarSVG(name, seed string) string {
	initial := "?"
	for _, r := range strings.TrimSpace(name) {
		if unicode.IsPrint(r) && r != utf8.RuneError {
			initial = string(unicode.ToUpper(r))
		}
		break
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(seed))
	hue := h.Sum32() % 360
	return fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">`+
		`<rect width="64" height="64" rx="32" fill="hsl(%d,55%%,45%%)"/>`+
		`<text x="32" y="42" font-family="sans-serif" font-size="28" text-anchor="middle" fill="#fff">%s</text></svg>`,
		hue, html.EscapeString(initial))
}
