package main

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/server"
	"github.com/quire/quire/storage"
	"github.com/quire/quire/storage/storagetest"
)

func runCmd(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, func(k string) string { return env[k] }, &out, &errb)
	return code, out.String(), errb.String()
}

func TestVersion(t *testing.T) {
	t.Parallel()
	code, out, _ := runCmd(t, nil, "version")
	require.Equal(t, 0, code)
	require.Regexp(t, `^quire \S+ go1\.\d+`, out)
}

func TestUnknownCommandAndBadFlags(t *testing.T) {
	t.Parallel()
	code, _, errs := runCmd(t, nil, "frobnicate")
	require.Equal(t, 2, code)
	require.Contains(t, errs, "unknown command")

	code, _, _ = runCmd(t, nil, "serve", "--no-such-flag")
	require.Equal(t, 2, code)

	code, _, errs = runCmd(t, nil, "serve", "--log-level", "loud", "--data-dir", t.TempDir())
	require.Equal(t, 1, code)
	require.Contains(t, errs, "--log-level")

	code, _, errs = runCmd(t, map[string]string{"QUIRE_MAX_MESSAGE_BYTES": "lots"}, "serve", "--data-dir", t.TempDir())
	require.Equal(t, 1, code)
	require.Contains(t, errs, "QUIRE_MAX_MESSAGE_BYTES")
}

func TestHelpDocumentsEveryFlag(t *testing.T) {
	t.Parallel()
	code, _, errs := runCmd(t, nil, "serve", "--help")
	require.Equal(t, 0, code)
	for _, f := range []string{"addr", "data-dir", "database-url", "redis-url", "redis-prefix", "secret", "max-message-bytes", "max-document-bytes", "log-level"} {
		require.Contains(t, errs, "-"+f+" ", f)
	}
	for _, env := range []string{"QUIRE_ADDR", "QUIRE_DATA_DIR", "QUIRE_DATABASE_URL", "QUIRE_REDIS_URL", "QUIRE_REDIS_PREFIX", "QUIRE_SECRET", "WEBUI_SECRET_KEY", "QUIRE_MAX_MESSAGE_BYTES", "QUIRE_MAX_DOCUMENT_BYTES", "QUIRE_LOG_LEVEL"} {
		require.Contains(t, errs, env)
	}
	require.Contains(t, errs, `(default "127.0.0.1:8080")`)
	require.Contains(t, errs, `(default 16777216)`)
}

// TestHelpListsCommandsAndServeFlags: "quire --help", "quire -h" and
// "quire help" print, on stdout, every command and the serve flags.
func TestHelpListsCommandsAndServeFlags(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"-help"}} {
		code, out, _ := runCmd(t, nil, args...)
		require.Equal(t, 0, code, args)
		for _, want := range []string{"quire [serve]", "quire migrate", "quire token --email", "quire version",
			"-addr ", "-data-dir ", "-database-url ", "-max-conns-per-ip ", "-max-conns ", "-public-url ", "-metrics-addr ",
			"QUIRE_PUBLIC_URL", "WEBUI_URL", "QUIRE_MAX_CONNS_PER_IP", "QUIRE_MAX_CONNS", "QUIRE_METRICS_ADDR"} {
			require.Contains(t, out, want, "%v", args)
		}
	}
}

func TestFlagBeatsEnv(t *testing.T) {
	t.Parallel()
	env := map[string]string{"QUIRE_ADDR": "127.0.0.1:9999", "QUIRE_LOG_LEVEL": "debug", "WEBUI_SECRET_KEY": "from-webui-0123456789"}
	s := newSettings("serve", &bytes.Buffer{}, true)
	require.NoError(t, s.parse([]string{"--addr", "127.0.0.1:7777"}, func(k string) string { return env[k] }))
	require.Equal(t, "127.0.0.1:7777", s.cfg.Addr)
	require.Equal(t, "debug", s.cfg.LogLevel)
	require.Equal(t, "from-webui-0123456789", s.cfg.Secret)
	require.Equal(t, server.MaxMessageBytesDefault, s.cfg.MaxMessageBytes)

	env["QUIRE_SECRET"] = "from-quire-0123456789"
	s = newSettings("serve", &bytes.Buffer{}, true)
	require.NoError(t, s.parse(nil, func(k string) string { return env[k] }))
	require.Equal(t, "from-quire-0123456789", s.cfg.Secret, "QUIRE_SECRET beats WEBUI_SECRET_KEY")
	require.Equal(t, "127.0.0.1:9999", s.cfg.Addr)
}

func TestMigrateAndToken(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := map[string]string{"QUIRE_DATA_DIR": dir}
	code, out, errs := runCmd(t, env, "migrate")
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "up to date")
	require.FileExists(t, filepath.Join(dir, storage.SQLiteFileName))

	code, _, errs = runCmd(t, env, "token", "--email", "nobody@example.com")
	require.Equal(t, 1, code)
	require.Contains(t, errs, "no account")

	code, _, _ = runCmd(t, env, "token")
	require.Equal(t, 2, code, "--email is required")

	// Make an account, then a token for it, and check the server takes it.
	ctx := context.Background()
	st, err := storage.Open(ctx, "", dir, nil)
	require.NoError(t, err)
	u := &storage.User{Email: "ada@example.com", Name: "Ada", PasswordHash: "x", SessionStamp: "stamp"}
	require.NoError(t, st.CreateUser(ctx, u))
	require.NoError(t, st.Close())

	code, out, errs = runCmd(t, env, "token", "--email", "ADA@example.com")
	require.Equal(t, 0, code, errs)
	tok := strings.TrimSpace(out)
	require.Regexp(t, `^[\w-]+\.[\w-]+\.[\w-]+$`, tok)

	srv, err := server.New(server.Config{DataDir: dir, Addr: "127.0.0.1:0"}, nil)
	require.NoError(t, err)
	got, claims, err := srv.Auth().Verify(ctx, tok)
	require.NoError(t, err, "the token verifies with the secret kept in the data dir")
	require.Equal(t, u.ID, got.ID)
	require.True(t, claims.Service, "quire token makes service tokens (they may push events)")
	require.NoError(t, srv.Stop(ctx))
}

// TestBinaryServeAndSignal builds the real binary, serves on a free port and
// checks SIGTERM stops it with exit code 0.
func TestBinaryServeAndSignal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "quire")
	build := exec.Command("go", "build", "-o", bin, ".")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)

	out, err = exec.Command(bin, "version").Output()
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(out), "quire "), "%s", out)

	dataDir := t.TempDir()
	cmd := exec.Command(bin, "--addr", "127.0.0.1:0", "--data-dir", dataDir)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	// The server logs the address it listens on.
	addrRe := regexp.MustCompile(`msg=listening .* addr=(\S+)`)
	addrc := make(chan [2]string, 1)
	go func() {
		lines := bufio.NewScanner(stderr)
		for lines.Scan() { // read to the end: keeps the pipe drained
			t.Log(lines.Text())
			if m := addrRe.FindStringSubmatch(lines.Text()); m != nil {
				addrc <- [2]string{m[1], lines.Text()}
			}
		}
		close(addrc)
	}()
	var addr, line string
	select {
	case got := <-addrc:
		addr, line = got[0], got[1]
	case <-time.After(30 * time.Second):
	}
	require.NotEmpty(t, addr, "no listening line")
	// The start-up line says what to open and where data and secret live.
	require.Contains(t, line, "open=http://"+addr+"/")
	require.Contains(t, line, `database="sqlite `+filepath.Join(dataDir, storage.SQLiteFileName)+`"`)
	require.Contains(t, line, "secret="+filepath.Join(dataDir, server.SecretFileName))
	resp, err := http.Get("http://" + addr + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err, "exit status after SIGTERM")
		for range addrc { // the reader is done before the test ends
		}
	case <-time.After(30 * time.Second):
		t.Fatal("quire did not stop after SIGTERM")
	}
	_ = os.Remove(bin)
}

func TestMigratePostgres(t *testing.T) {
	t.Parallel()
	url := storagetest.NewPostgres(t) // skips without QUIRE_TEST_DATABASE_URL
	code, out, errs := runCmd(t, map[string]string{"QUIRE_DATABASE_URL": url, "QUIRE_DATA_DIR": t.TempDir()}, "migrate")
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "up to date")
	code, _, errs = runCmd(t, nil, "migrate", "--database-url", url, "--data-dir", t.TempDir())
	require.Equal(t, 0, code, "migrating twice is a no-op: %s", errs)
}

// TestSignupPolicyFlags: --enable-signup and --default-user-role, their
// Open WebUI environment variables, defaults, and a clear error for a bad role.
func TestSignupPolicyFlags(t *testing.T) {
	t.Parallel()
	parse := func(env map[string]string, args ...string) (*settings, error) {
		s := newSettings("serve", &bytes.Buffer{}, true)
		return s, s.parse(args, func(k string) string { return env[k] })
	}
	s, err := parse(nil)
	require.NoError(t, err)
	require.False(t, s.cfg.SignupDisabled, "sign-up is on by default")
	require.Equal(t, "user", s.cfg.DefaultUserRole)

	s, err = parse(map[string]string{"ENABLE_SIGNUP": "false", "DEFAULT_USER_ROLE": "pending"})
	require.NoError(t, err)
	require.True(t, s.cfg.SignupDisabled)
	require.Equal(t, "pending", s.cfg.DefaultUserRole)

	s, err = parse(map[string]string{"ENABLE_SIGNUP": "false", "DEFAULT_USER_ROLE": "pending"}, "--enable-signup=true", "--default-user-role", "admin")
	require.NoError(t, err)
	require.False(t, s.cfg.SignupDisabled, "the flag beats the variable")
	require.Equal(t, "admin", s.cfg.DefaultUserRole)

	s, err = parse(map[string]string{"QUIRE_ENABLE_SIGNUP": "0"})
	require.NoError(t, err)
	require.True(t, s.cfg.SignupDisabled)

	code, _, errs := runCmd(t, nil, "serve", "--default-user-role", "root", "--data-dir", t.TempDir())
	require.Equal(t, 1, code)
	require.Contains(t, errs, "--default-user-role")
	code, _, errs = runCmd(t, map[string]string{"ENABLE_SIGNUP": "maybe"}, "serve", "--data-dir", t.TempDir())
	require.Equal(t, 1, code)
	require.Contains(t, errs, "ENABLE_SIGNUP")

	code, _, errs = runCmd(t, nil, "serve", "--help")
	require.Equal(t, 0, code)
	for _, s := range []string{"-enable-signup", "-default-user-role", "ENABLE_SIGNUP", "DEFAULT_USER_ROLE"} {
		require.Contains(t, errs, s)
	}
}

func TestOpenAIFlags(t *testing.T) {
	t.Parallel()
	parse := func(env map[string]string, args ...string) (*settings, error) {
		s := newSettings("serve", &bytes.Buffer{}, true)
		return s, s.parse(args, func(k string) string { return env[k] })
	}
	s, err := parse(map[string]string{"OPENAI_API_BASE_URLS": "http://a.test/v1; https://b.test/v1/", "OPENAI_API_KEYS": "ka;kb"})
	require.NoError(t, err)
	ups, err := s.cfg.Upstreams()
	require.NoError(t, err)
	require.Len(t, ups, 2)
	require.Equal(t, "https://b.test/v1", ups[1].BaseURL)
	require.Equal(t, "kb", ups[1].APIKey)

	s, err = parse(map[string]string{"OPENAI_API_BASE_URLS": "http://a.test/v1", "QUIRE_OPENAI_BASE_URL": "http://q.test"}, "--openai-api-key", "k")
	require.NoError(t, err)
	ups, err = s.cfg.Upstreams()
	require.NoError(t, err)
	require.Equal(t, "http://q.test", ups[0].BaseURL, "QUIRE_OPENAI_BASE_URL beats OPENAI_API_BASE_URLS")
	require.Equal(t, "k", ups[0].APIKey)

	for _, c := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{nil, []string{"--openai-base-url", "ftp://a.test"}, "--openai-base-url"},
		{nil, []string{"--openai-base-url", "http://a.test;"}, "--openai-base-url"},
		{map[string]string{"OPENAI_API_BASE_URLS": "a.test/v1"}, nil, "--openai-base-url"},
		{nil, []string{"--openai-base-url", "http://a.test", "--openai-api-key", "k1;k2"}, "--openai-api-key has 2 keys for 1 URLs"},
		{nil, []string{"--openai-api-key", "secret-key-value"}, "--openai-api-key is set but --openai-base-url is not"},
	} {
		_, err := parse(c.env, c.args...)
		require.ErrorContains(t, err, c.want, "%v %v", c.env, c.args)
		require.NotContains(t, err.Error(), "secret-key-value", "keys are never shown")
	}

	code, _, errs := runCmd(t, nil, "serve", "--help")
	require.Equal(t, 0, code)
	for _, s := range []string{"-openai-base-url", "-openai-api-key", "QUIRE_OPENAI_BASE_URL", "OPENAI_API_BASE_URLS", "QUIRE_OPENAI_API_KEY", "OPENAI_API_KEYS"} {
		require.Contains(t, errs, s)
	}
}

func TestWebUIDirFlag(t *testing.T) {
	t.Parallel()
	parse := func(env map[string]string, args ...string) (*settings, error) {
		s := newSettings("serve", &bytes.Buffer{}, true)
		return s, s.parse(args, func(k string) string { return env[k] })
	}
	build, other := t.TempDir(), t.TempDir()
	for _, d := range []string{build, other} {
		require.NoError(t, os.WriteFile(filepath.Join(d, "index.html"), []byte("<p>x</p>"), 0o600))
	}
	s, err := parse(nil)
	require.NoError(t, err)
	require.Empty(t, s.cfg.WebUIDir, "the built-in app by default")
	s, err = parse(map[string]string{"QUIRE_WEBUI_DIR": build})
	require.NoError(t, err)
	require.Equal(t, build, s.cfg.WebUIDir)
	s, err = parse(map[string]string{"QUIRE_WEBUI_DIR": build}, "--webui-dir", other)
	require.NoError(t, err)
	require.Equal(t, other, s.cfg.WebUIDir, "the flag beats the variable")
	_, err = parse(nil, "--webui-dir", t.TempDir())
	require.ErrorContains(t, err, "--webui-dir", "a directory without index.html")

	code, _, errs := runCmd(t, nil, "serve", "--help")
	require.Equal(t, 0, code)
	require.Contains(t, errs, "-webui-dir")
	require.Contains(t, errs, "QUIRE_WEBUI_DIR")
}

// TestCommitLingerFlag: --commit-linger and QUIRE_COMMIT_LINGER set the
// document writer's linger; a bad or out-of-range value is refused, naming
// the flag, before anything starts.
func TestCommitLingerFlag(t *testing.T) {
	t.Parallel()
	s := newSettings("serve", &bytes.Buffer{}, true)
	require.NoError(t, s.parse(nil, func(k string) string { return map[string]string{"QUIRE_COMMIT_LINGER": "5ms"}[k] }))
	require.Equal(t, 5*time.Millisecond, s.cfg.CommitLinger)
	s = newSettings("serve", &bytes.Buffer{}, true)
	require.NoError(t, s.parse([]string{"--commit-linger", "2ms"}, func(string) string { return "" }))
	require.Equal(t, 2*time.Millisecond, s.cfg.CommitLinger)

	for _, v := range []string{"2s", "-1ms"} {
		code, _, errs := runCmd(t, nil, "serve", "--commit-linger", v, "--data-dir", t.TempDir())
		require.Equal(t, 1, code, v)
		require.Contains(t, errs, "--commit-linger", v)
	}
	code, _, _ := runCmd(t, nil, "serve", "--commit-linger", "soon", "--data-dir", t.TempDir())
	require.Equal(t, 2, code)
}

// TestDocumentTuningFlags: --doc-idle-timeout, --doc-inactive-timeout and
// --doc-compact-rows (or their variables) reach the server's config; a
// negative value is refused, naming the flags, before anything starts.
func TestDocumentTuningFlags(t *testing.T) {
	t.Parallel()
	s := newSettings("serve", &bytes.Buffer{}, true)
	env := map[string]string{"QUIRE_DOC_IDLE_TIMEOUT": "200ms", "QUIRE_DOC_COMPACT_ROWS": "8"}
	require.NoError(t, s.parse([]string{"--doc-inactive-timeout", "1s"}, func(k string) string { return env[k] }))
	require.Equal(t, 200*time.Millisecond, s.cfg.DocIdleTimeout)
	require.Equal(t, time.Second, s.cfg.DocInactiveTimeout)
	require.Equal(t, 8, s.cfg.DocCompactRows)

	for _, args := range [][]string{{"--doc-idle-timeout", "-1s"}, {"--doc-inactive-timeout", "-1s"}, {"--doc-compact-rows", "-1"}} {
		code, _, errs := runCmd(t, nil, append([]string{"serve", "--data-dir", t.TempDir()}, args...)...)
		require.Equal(t, 1, code, args)
		require.Contains(t, errs, args[0], args)
	}
}

// TestChatTimeoutFlag: --chat-timeout (or QUIRE_CHAT_TIMEOUT) bounds a
// non-streamed completion; a negative value is refused, naming the flag,
// before anything starts.
func TestChatTimeoutFlag(t *testing.T) {
	t.Parallel()
	s := newSettings("serve", &bytes.Buffer{}, true)
	require.NoError(t, s.parse(nil, func(k string) string { return map[string]string{"QUIRE_CHAT_TIMEOUT": "90s"}[k] }))
	require.Equal(t, 90*time.Second, s.cfg.ChatTimeout)
	s = newSettings("serve", &bytes.Buffer{}, true)
	require.NoError(t, s.parse([]string{"--chat-timeout", "10m"}, func(k string) string { return map[string]string{"QUIRE_CHAT_TIMEOUT": "30s"}[k] }))
	require.Equal(t, 10*time.Minute, s.cfg.ChatTimeout, "the flag beats the variable")

	code, _, errs := runCmd(t, nil, "serve", "--chat-timeout", "-1s", "--data-dir", t.TempDir())
	require.Equal(t, 1, code)
	require.Contains(t, errs, "--chat-timeout")
}
