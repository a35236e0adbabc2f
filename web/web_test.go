package web_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/quire/quire/quiretest"
	"github.com/quire/quire/server"
	"github.com/quire/quire/storage"
	"github.com/quire/quire/storage/storagetest"
	"github.com/quire/quire/web"
)

func get(t *testing.T, url string) (int, http.Header, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, string(b)
}

// serve starts web with cfg on a test server; both stop when the test
// ends. It returns the server's URL.
func serve(t *testing.T, cfg web.Config) string {
	t.Helper()
	w, err := web.New(cfg)
	require.NoError(t, err)
	t.Cleanup(w.Close)
	mux := http.NewServeMux()
	w.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestHealthzAndMetrics(t *testing.T) {
	t.Parallel()
	for _, b := range quiretest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			s := quiretest.New(t, b.Opts...)
			code, _, body := get(t, s.URL+"/healthz")
			require.Equal(t, http.StatusOK, code)
			require.JSONEq(t, `{"status":true}`, body)
			s.Do("GET", "/api/v1/notes/", "", nil) // a 401, counted under its route

			code, _, body = get(t, s.URL+"/metrics")
			require.Equal(t, http.StatusOK, code)
			require.Contains(t, body, `quire_build_info{go="`+runtime.Version()+`",version="dev"} 1`)
			require.Regexp(t, `quire_web_http_requests_total\{code="200",route="GET /healthz"\} [1-9]`, body)
			require.Regexp(t, `quire_web_http_requests_total\{code="401",route="GET /api/v1/notes/\{\$\}"\} 1`, body)
			require.Contains(t, body, `quire_web_http_request_duration_seconds_bucket{route="GET /healthz"`)
			require.Regexp(t, `quire_storage_pool_open_connections [0-9]`, body)
			require.Contains(t, body, "go_goroutines")
			require.NotRegexp(t, regexp.MustCompile(`route="[^"]*[0-9a-f]{8}-[0-9a-f]{4}`), body, "no ids in labels")
		})
	}
}

func TestHealthzFailsWhenTheDatabaseDoes(t *testing.T) {
	t.Parallel()
	st, err := storage.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "quire.db"), nil)
	require.NoError(t, err)
	url := serve(t, web.Config{Store: st, Registry: prometheus.NewRegistry(), HealthEvery: 10 * time.Millisecond})

	code, _, _ := get(t, url+"/healthz")
	require.Equal(t, http.StatusOK, code)
	require.NoError(t, st.Close())
	// /healthz answers from the last ping: the next one fails.
	require.Eventually(t, func() bool {
		code, _, body := get(t, url+"/healthz")
		return code == http.StatusServiceUnavailable && body == `{"status":false}`+"\n"
	}, 60*time.Second, 10*time.Millisecond)
}

// TestHealthzAnswersWhileThePoolIsBusy: /healthz answers from the last
// ping, so a database pool busy with other work (here its only connection,
// held by an account creation waiting on a lock) does not hold it up: it
// answers 200 while the pool is still taken. Pinging per request, it
// waited for the pool and answered 503 after its timeout.
func TestHealthzAnswersWhileThePoolIsBusy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	bp := storagetest.NewBusyPool(t)
	st := bp.Store
	url := serve(t, web.Config{Store: st, Registry: prometheus.NewRegistry(),
		HealthEvery: 10 * time.Millisecond, HealthTimeout: time.Minute, HealthStale: time.Hour})
	code, _, _ := get(t, url+"/healthz")
	require.Equal(t, http.StatusOK, code)

	// Another session holds the lock CreateUser takes first, so
	// CreateUser keeps the pool's only connection until it commits.
	bp.Take(t)
	require.Equal(t, 1, st.PoolStats().InUse)

	code, _, body := get(t, url+"/healthz")
	require.Equal(t, http.StatusOK, code, "answered while the pool is taken")
	require.JSONEq(t, `{"status":true}`, body)
	require.Equal(t, 1, st.PoolStats().InUse, "the pool was still taken")

	require.NoError(t, bp.Holder.Commit(ctx))
	require.NoError(t, <-bp.Created)
}

func TestApp(t *testing.T) {
	t.Parallel()
	st, err := storage.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "quire.db"), nil)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	w, err := web.New(web.Config{Store: st, Registry: prometheus.NewRegistry(), Assets: fstest.MapFS{
		"index.html":    {Data: []byte("<p>app</p>")},
		"assets/app.js": {Data: []byte("console.log(1)")},
	}})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "api", http.StatusTeapot) })
	w.Register(mux)
	srv := httptest.NewServer(w.Instrument(mux, nil))
	defer srv.Close()

	for path, want := range map[string]string{
		"/": "<p>app</p>", "/notes/123": "<p>app</p>", "/deep/client/route": "<p>app</p>",
		"/assets/app.js": "console.log(1)",
	} {
		code, _, body := get(t, srv.URL+path)
		require.Equal(t, http.StatusOK, code, path)
		require.Equal(t, want, body, path)
	}
	for _, path := range []string{"/missing.js", "/assets/nope.css", "/ws/anything", "/ws/socket.io/x"} {
		code, _, body := get(t, srv.URL+path)
		require.Equal(t, http.StatusNotFound, code, path)
		require.NotContains(t, body, "app</p>", path)
	}
	code, _, body := get(t, srv.URL+"/api/v1/whatever")
	require.Equal(t, http.StatusTeapot, code, "/api/ is never the app")
	require.False(t, strings.Contains(body, "app</p>"))

	resp, err := http.Post(srv.URL+"/", "text/plain", nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
}

func TestEmbeddedAppIsServed(t *testing.T) {
	t.Parallel()
	s := quiretest.New(t)
	code, h, body := get(t, s.URL+"/")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, h.Get("Content-Type"), "text/html")
	require.Contains(t, strings.ToLower(body), "<!doctype html>")
	code, _, body2 := get(t, s.URL+"/some/client/route")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, body, body2)
	code, _, _ = get(t, s.URL+"/api/v1/unknown")
	require.Equal(t, http.StatusNotFound, code)
}

// TestWebUIDir: --webui-dir serves another frontend build from disk at /
// instead of the embedded app: files as they are, client routes fall back
// to index.html, missing assets are 404s, /api/ stays the API's (a JSON
// 404 for unknown routes). The build's inline scripts are not blocked by
// our app's policy, and content-hashed files are cached for good.
func TestWebUIDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	files := map[string]string{
		"index.html":                  "<!doctype html><p>stock</p><script>inline()</script>",
		"_app/immutable/entry/app.js": "console.log('app')",
		"static/favicon.png":          "png",
		"manifest.json":               `{"name":"x"}`,
	}
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(data), 0o644))
	}
	s := quiretest.New(t, quiretest.WithConfig(func(c *server.Config) { c.WebUIDir = dir }))

	for path, want := range map[string]string{
		"/": files["index.html"], "/notes": files["index.html"], "/notes/0f8e-11": files["index.html"],
		"/auth?redirect=%2F": files["index.html"], "/_app/immutable/entry/app.js": files["_app/immutable/entry/app.js"],
		"/static/favicon.png": "png", "/manifest.json": files["manifest.json"],
		"/../../etc/passwd": files["index.html"], // cleaned to /etc/passwd: no such file, a client route
	} {
		code, h, body := get(t, s.URL+path)
		require.Equal(t, http.StatusOK, code, path)
		require.Equal(t, want, body, path)
		require.Empty(t, h.Get("Content-Security-Policy"), "%s: the stock build runs inline scripts", path)
	}
	_, h, _ := get(t, s.URL+"/_app/immutable/entry/app.js")
	require.Contains(t, h.Get("Cache-Control"), "immutable")
	_, h, _ = get(t, s.URL+"/notes")
	require.Equal(t, "no-cache", h.Get("Cache-Control"))
	for _, path := range []string{"/_app/immutable/chunks/missing.js", "/missing.css", "/static/nope.png", "/ws/x"} {
		code, _, body := get(t, s.URL+path)
		require.Equal(t, http.StatusNotFound, code, path)
		require.NotContains(t, body, "stock", path)
	}
	code, h, body := get(t, s.URL+"/api/v1/nope")
	require.Equal(t, http.StatusNotFound, code)
	require.Equal(t, "application/json", h.Get("Content-Type"))
	require.JSONEq(t, `{"detail":"Not Found"}`, body)
	code, _, _ = get(t, s.URL+"/healthz")
	require.Equal(t, http.StatusOK, code)

	// A directory that is not a build is refused at start, naming the flag.
	for _, bad := range []string{filepath.Join(dir, "nope"), t.TempDir(), filepath.Join(dir, "index.html")} {
		err := web.CheckWebUIDir(bad)
		require.ErrorContains(t, err, "--webui-dir", bad)
		_, err = web.New(web.Config{Store: s.Store(), Registry: prometheus.NewRegistry(), WebUIDir: bad})
		require.Error(t, err, bad)
	}
}
