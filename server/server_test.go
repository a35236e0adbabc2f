package server_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/quire/quire/quiretest"
	"github.com/quire/quire/server"
)

func TestConfigDefaultsAndValidate(t *testing.T) {
	t.Parallel()
	c := server.Config{}.WithDefaults()
	require.Equal(t, server.AddrDefault, c.Addr)
	require.Equal(t, server.DataDirDefault, c.DataDir)
	require.Equal(t, 16<<20, c.MaxMessageBytes)
	require.Equal(t, 64<<20, c.MaxDocumentBytes)
	require.Equal(t, "info", c.LogLevel)
	require.NoError(t, c.Validate())

	bad := map[string]func(*server.Config){
		"--addr":               func(c *server.Config) { c.Addr = "nope" },
		"--database-url":       func(c *server.Config) { c.DatabaseURL = "mysql://x" },
		"--redis-url":          func(c *server.Config) { c.RedisURL = "http://x" },
		"--secret":             func(c *server.Config) { c.Secret = "short" },
		"--max-message-bytes":  func(c *server.Config) { c.MaxMessageBytes = -1 },
		"--max-document-bytes": func(c *server.Config) { c.MaxDocumentBytes = 10 },
		"--log-level":          func(c *server.Config) { c.LogLevel = "chatty" },
		"--webui-dir":          func(c *server.Config) { c.WebUIDir = "/nonexistent/quire-webui" },
	}
	for flag, edit := range bad {
		c := server.Config{}.WithDefaults()
		edit(&c)
		err := c.Validate()
		require.Error(t, err, flag)
		require.Contains(t, err.Error(), flag)
	}
}

func TestSecretIsCreatedOnceWithMode0600(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	s1, err := server.ResolveSecret(server.Config{DataDir: dir})
	require.NoError(t, err)
	require.Len(t, s1, 64, "32 random bytes, hex")
	st, err := os.Stat(filepath.Join(dir, server.SecretFileName))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	s2, err := server.ResolveSecret(server.Config{DataDir: dir})
	require.NoError(t, err)
	require.Equal(t, s1, s2, "kept across starts")
	s3, err := server.ResolveSecret(server.Config{DataDir: t.TempDir()})
	require.NoError(t, err)
	require.NotEqual(t, s1, s3)
	explicit, err := server.ResolveSecret(server.Config{DataDir: dir, Secret: "given-secret-0123456789"})
	require.NoError(t, err)
	require.Equal(t, "given-secret-0123456789", string(explicit))

	require.NoError(t, os.WriteFile(filepath.Join(dir, server.SecretFileName), []byte("tiny\n"), 0o600))
	_, err = server.ResolveSecret(server.Config{DataDir: dir})
	require.Error(t, err, "a truncated secret file is refused, not used")
}

func TestGeneratedSecretSurvivesRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	noSecret := quiretest.WithConfig(func(c *server.Config) { c.Secret = "" })
	s1 := quiretest.New(t, quiretest.WithDataDir(dir), noSecret)
	ada := s1.SignUp("Ada")
	s1.Stop()
	s2 := quiretest.New(t, quiretest.WithDataDir(dir), noSecret)
	s2.JSON("GET", "/api/v1/auths/", ada.Token, nil, http.StatusOK, nil)
}

func TestStopIsIdempotentAndFreesThePort(t *testing.T) {
	t.Parallel()
	s := quiretest.New(t)
	addr := s.Addr()
	require.NotEmpty(t, addr)
	ctx := context.Background()
	require.NoError(t, s.Server.Stop(ctx))
	require.NoError(t, s.Server.Stop(ctx))
	_, err := http.Get("http://" + addr + "/healthz")
	require.Error(t, err, "nothing listens after Stop")
}

func TestRealtimeIsMounted(t *testing.T) {
	t.Parallel()
	s := quiretest.New(t)
	// An Engine.IO handshake without a transport upgrade: the Socket.IO
	// server answers (an error about the transport), not the app or a 404.
	r := s.Do("GET", "/ws/socket.io/?EIO=4&transport=polling", "", nil)
	require.NotEqual(t, http.StatusNotFound, r.Status, "%s", r.Body)
	require.NotContains(t, string(r.Body), "<html")
}

// TestWebSocketThroughMiddleware: the request metrics and logging wrappers
// pass the hijack through, so an Engine.IO WebSocket opens.
func TestWebSocketThroughMiddleware(t *testing.T) {
	t.Parallel()
	s := quiretest.New(t)
	c, resp, err := websocket.DefaultDialer.Dial("ws://"+s.Addr()+"/ws/socket.io/?EIO=4&transport=websocket", nil)
	require.NoError(t, err)
	defer c.Close()
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	_, msg, err := c.ReadMessage()
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(msg), "0{"), "Engine.IO open packet, got %q", msg)
	require.Contains(t, string(msg), `"sid":`)
}

// TestSignOutDisconnectsSockets: sign-out and role changes reach the
// Socket.IO server (api's OnRevoke), which drops the account's sockets.
func TestSignOutDisconnectsSockets(t *testing.T) {
	t.Parallel()
	s := quiretest.New(t)
	admin := s.SignUp("Admin")
	bob := s.SignUp("Bob")
	connect := func(token string) *websocket.Conn {
		c, _, err := websocket.DefaultDialer.Dial("ws://"+s.Addr()+"/ws/socket.io/?EIO=4&transport=websocket", nil)
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		_, msg, err := c.ReadMessage() // Engine.IO open
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(string(msg), "0"), "%q", msg)
		require.NoError(t, c.WriteMessage(websocket.TextMessage, []byte(`40{"token":"`+token+`"}`)))
		_, msg, err = c.ReadMessage()
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(string(msg), "40"), "Socket.IO connect accepted, got %q", msg)
		// The token is checked on the socket's ordered queue, after the
		// CONNECT reply: an ok ack for a heartbeat sent after it proves the
		// socket is authenticated (in user:<id>) before the test revokes.
		require.NoError(t, c.WriteMessage(websocket.TextMessage, []byte(`421["heartbeat",{}]`)))
		for {
			_, msg, err = c.ReadMessage()
			require.NoError(t, err)
			if strings.HasPrefix(string(msg), "431") {
				require.Contains(t, string(msg), `"ok":true`, "heartbeat ack")
				break
			}
		}
		return c
	}
	// waitDropped reads until the server disconnects the socket: a
	// Socket.IO disconnect packet or the connection closing.
	waitDropped := func(c *websocket.Conn) {
		require.NoError(t, c.SetReadDeadline(time.Now().Add(30*time.Second))) // hang guard only
		for {
			_, msg, err := c.ReadMessage()
			var ne net.Error
			require.False(t, errors.As(err, &ne) && ne.Timeout(), "the socket was not dropped")
			if err != nil || string(msg) == "41" {
				return
			}
			if string(msg) == "2" { // Engine.IO ping
				_ = c.WriteMessage(websocket.TextMessage, []byte("3"))
			}
		}
	}

	c := connect(bob.Token)
	s.JSON("GET", "/api/v1/auths/signout", bob.Token, nil, http.StatusOK, nil)
	waitDropped(c)

	c = connect(s.SignIn(bob.Email))
	s.JSON("POST", "/api/v1/users/"+bob.ID+"/update/role", admin.Token, map[string]string{"role": "pending"}, http.StatusOK, nil)
	waitDropped(c)
}
