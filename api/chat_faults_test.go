package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/chat/chattest"
	"github.com/quire/quire/quiretest"
	"github.com/quire/quire/server"
)

// scriptedUpstream lists model "m" and answers its completions with
// complete; it returns the base URL.
func scriptedUpstream(t *testing.T, complete http.HandlerFunc) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/models", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"data":[{"id":"m"}]}`))
	})
	mux.HandleFunc("POST /v1/chat/completions", complete)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	return srv.URL + "/v1"
}

// halfAnswer is the start of a JSON answer, longer than the response
// buffers, so that the client has the headers while the rest is awaited.
var halfAnswer = `{"object":"chat.completion","choices":[{"message":{"content":"` + strings.Repeat("x", 64<<10)

// A JSON answer (no stream) whose upstream fails midway reaches the client
// as a broken response, never as a whole-looking 200 with half a JSON
// document: the headers went out with the first bytes, so the response is
// aborted.
func TestChatJSONAnswerCut(t *testing.T) {
	t.Parallel()
	url := scriptedUpstream(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(halfAnswer))
		_ = http.NewResponseController(w).Flush()
		if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
			_ = c.Close()
		}
	})
	s, tok := chatServer(t, url, "")
	resp := streamReq(t, s, tok, map[string]any{"model": "m", "messages": msgs()})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.Error(t, err, "the client got %d bytes as if whole", len(body))
}

// The same at shutdown: a JSON answer in progress is cut, not ended as if
// whole, and the shutdown is not held by it.
func TestChatJSONAnswerAtShutdown(t *testing.T) {
	t.Parallel()
	url := scriptedUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(halfAnswer))
		_ = http.NewResponseController(w).Flush()
		<-r.Context().Done()
	})
	s, tok := chatServer(t, url, "")
	resp := streamReq(t, s, tok, map[string]any{"model": "m", "messages": msgs()})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	stopped := make(chan error, 1)
	go func() { stopped <- s.Server.Stop(context.Background()) }()
	body, err := io.ReadAll(resp.Body)
	require.Error(t, err, "the client got %d bytes as if whole", len(body))
	require.NoError(t, <-stopped)
}

// An upstream (or the proxy before it) that answers an error with an HTML
// page: the client is told the status, not the page's markup.
func TestChatUpstreamHTMLError(t *testing.T) {
	t.Parallel()
	url := scriptedUpstream(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte("<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"))
	})
	s, tok := chatServer(t, url, "", func(c *server.Config) { c.ChatIdleTimeout = 10 * time.Second })
	for _, stream := range []bool{true, false} {
		r := s.Do("POST", "/api/chat/completions", tok, map[string]any{"model": "m", "messages": msgs(), "stream": stream})
		require.Equal(t, http.StatusBadGateway, r.Status)
		require.Equal(t, "the model server answered 502: Bad Gateway", r.Detail())
	}
}

// An answer the chat has no room for (the chat is near its size limit) is
// stored cut, finished and with an error saying so, and the sockets are
// told that error rather than done: before, the save was refused whole,
// the stored answer stayed empty and unfinished (a reload shows it
// generating forever), and the sockets were told it was done.
func TestChatTaskAnswerTooLargeToStore(t *testing.T) {
	t.Parallel()
	up := chattest.New(t)
	eachBackendWith(t, func(t *testing.T, s *quiretest.Server) {
		tok := s.SignUp("alice").Token
		step := sockets(t, s, tok)
		body := taskBody(sids(t, step)[0], "chat-big", "a1", chattest.ModelOK, 6000) // ~29 KB of answer
		delete(body, "messages")
		body["user_message"] = map[string]any{"id": "u1", "parentId": nil, "childrenIds": []string{"a1"}, "role": "user",
			"content": strings.Repeat("q", 20<<10)} // stored twice (history, messages): ~41 KB of 64
		startTask(t, s, tok, body)
		waitInactive(t, step, 0, "a1")
		tr := traceOf(t, eventsOf(t, step, 0, "a1"))
		require.Equal(t, []string{"active:true", "text", "chat:message:error", "chat:tasks:cancel", "chat:title", "active:false"}, tr.types)
		require.Equal(t, numbers(0, 6000), tr.text, "the sockets had the whole text")
		require.Contains(t, tr.errorMsg, "cut")

		var c chatResp
		s.JSON("GET", chatsPath+"chat-big", tok, nil, http.StatusOK, &c)
		a1 := chatMessage(c, "a1")
		require.Equal(t, true, a1["done"])
		require.Equal(t, map[string]any{"content": tr.errorMsg}, a1["error"])
		stored := a1["content"].(string)
		require.Greater(t, len(stored), 4<<10, "cut to fit, not emptied: the chat had ~20 KB of room")
		require.Less(t, len(stored), len(tr.text))
		require.True(t, strings.HasPrefix(tr.text, stored))
		require.Equal(t, a1, c.Chat["messages"].([]any)[1], "the list's entry matches history")
	}, quiretest.WithConfig(func(c *server.Config) {
		c.OpenAIBaseURLs, c.MaxChatBytes = up.BaseURL, 64<<10
	}))
}

// A task running when the server stops: its sockets are told the error
// and the end before they close, and what it had is stored, finished,
// with the error (read back after a restart on the same store).
func TestChatTaskShutdownStoresAndTells(t *testing.T) {
	t.Parallel()
	up := chattest.New(t)
	eachBackendWith(t, func(t *testing.T, s *quiretest.Server) {
		tok := s.SignUp("alice").Token
		step := sockets(t, s, tok)
		startTask(t, s, tok, taskBody(sids(t, step)[0], "chat-s", "a1", chattest.ModelHold, 5))
		step("until 0 chat:completion a1")
		s.Stop()
		raw, err := json.Marshal(step("gone 0 a1")["events"])
		require.NoError(t, err)
		var evs []sockEvent
		require.NoError(t, json.Unmarshal(raw, &evs))
		tr := traceOf(t, evs)
		require.Equal(t, []string{"active:true", "text", "chat:message:error", "chat:tasks:cancel", "active:false"}, tr.types)
		require.Equal(t, "the server is shutting down", tr.errorMsg)

		again := quiretest.New(t, quiretest.WithDataDir(s.Config.DataDir), quiretest.WithDatabaseURL(s.Config.DatabaseURL))
		var c chatResp
		again.JSON("GET", chatsPath+"chat-s", tok, nil, http.StatusOK, &c)
		a1 := chatMessage(c, "a1")
		require.Equal(t, true, a1["done"])
		require.Equal(t, "0 ", a1["content"])
		require.Equal(t, map[string]any{"content": "the server is shutting down"}, a1["error"])
	}, quiretest.WithConfig(func(c *server.Config) { c.OpenAIBaseURLs = up.BaseURL }))
}

// A client that stops reading (its connection open) is cut once it has
// taken nothing for the idle timeout, as a silent upstream is, whether it
// streams or waits for JSON: before, the handler stayed blocked writing to
// it for as long as the connection lived, holding its goroutine, and the
// server's shutdown to its deadline (Stop failed).
func TestChatClientStopsReading(t *testing.T) {
	t.Parallel()
	for _, stream := range []bool{true, false} {
		t.Run(fmt.Sprint("stream=", stream), func(t *testing.T) {
			t.Parallel()
			cancelled := make(chan struct{})
			url := scriptedUpstream(t, func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				chunk := []byte(`data: {"choices":[{"delta":{"content":"` + strings.Repeat("x", 8<<10) + `"}}]}` + "\n\n")
				w.Header().Set("Content-Type", "text/event-stream")
				if !stream { // an endless JSON document
					chunk = []byte(strings.Repeat(" ", 8<<10))
					w.Header().Set("Content-Type", "application/json")
					_, _ = w.Write([]byte(`{"object":"chat.completion","x":"`))
				}
				rc := http.NewResponseController(w)
				for {
					if _, err := w.Write(chunk); err != nil || rc.Flush() != nil {
						break
					}
				}
				close(cancelled) // Quire stopped reading, and gave up
			})
			s, tok := chatServer(t, url, "", func(c *server.Config) { c.ChatIdleTimeout = time.Second })

			conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
			require.NoError(t, err)
			t.Cleanup(func() { _ = conn.Close() })
			require.NoError(t, conn.(*net.TCPConn).SetReadBuffer(4<<10))
			body := fmt.Sprintf(`{"model":"m","stream":%v,"messages":[{"role":"user","content":"hi"}]}`, stream)
			_, err = fmt.Fprintf(conn, "POST /api/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
				tok, len(body), body)
			require.NoError(t, err)
			select { // nothing is read meanwhile: the buffers fill, then Quire waits
			case <-cancelled:
			case <-time.After(60 * time.Second):
				t.Fatal("the upstream request was never given up")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			require.NoError(t, s.Server.Stop(ctx), "the stuck answer held the shutdown")
		})
	}
}

// A JSON answer (no stream) must be whole within --chat-timeout: an
// upstream that sends its headers, then a byte now and then (each within
// any idle bound), or never even its headers, is given up. Before, nothing
// bounded a JSON answer: the handler and the upstream request lived as
// long as the client waited. The answer begun is aborted (as any cut JSON
// answer), one not begun is 504.
func TestChatJSONAnswerTimeout(t *testing.T) {
	t.Parallel()
	for _, headers := range []bool{true, false} {
		t.Run(fmt.Sprint("headers=", headers), func(t *testing.T) {
			t.Parallel()
			cancelled := make(chan struct{})
			url := scriptedUpstream(t, func(w http.ResponseWriter, r *http.Request) {
				defer close(cancelled)
				_, _ = io.Copy(io.Discard, r.Body) // else the server does not watch the connection
				if !headers {
					<-r.Context().Done()
					return
				}
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(halfAnswer))
				rc := http.NewResponseController(w)
				for rc.Flush() == nil {
					select {
					case <-r.Context().Done():
						return
					case <-time.After(50 * time.Millisecond):
						_, _ = w.Write([]byte("x"))
					}
				}
			})
			s, tok := chatServer(t, url, "", func(c *server.Config) {
				c.ChatTimeout = time.Second
				c.ChatIdleTimeout = time.Hour // not what ends it
			})
			// The client waits as long as it takes (a guard against a hang
			// only): the server must give up, not the client.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, "POST", s.URL+"/api/chat/completions",
				strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			require.NotErrorIs(t, err, context.DeadlineExceeded, "the server never gave the answer up")
			if headers {
				require.Equal(t, http.StatusOK, resp.StatusCode)
				require.Error(t, err, "the client got %d bytes as if whole", len(body))
			} else {
				require.NoError(t, err)
				require.Equal(t, http.StatusGatewayTimeout, resp.StatusCode, "%s", body)
				require.JSONEq(t, `{"detail":"the model server did not answer in time"}`, string(body))
			}
			<-cancelled // the upstream request was given up too
		})
	}
}

// A stream has no overall bound (a long answer is a steady trickle of
// events), but a line sent a byte at a time, each byte within the idle
// timeout, is no progress: the stream ends when no whole line came for
// the idle timeout.
func TestChatStreamTrickledLineStalls(t *testing.T) {
	t.Parallel()
	cancelled := make(chan struct{})
	url := scriptedUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		defer close(cancelled)
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = w.Write([]byte(`data: {"choices":[{"delta":{"content":"0 "}}]}` + "\n\n" + `data: {"choices":[{"delta":{"content":"`))
		rc := http.NewResponseController(w)
		for rc.Flush() == nil {
			select {
			case <-r.Context().Done():
				return
			case <-time.After(50 * time.Millisecond):
				_, _ = w.Write([]byte("x"))
			}
		}
	})
	// 3 s: at load 14 (race, fuzzing beside it) the upstream's first bytes
	// once took over a second to arrive, and the request ended in a 504.
	s, tok := chatServer(t, url, "", func(c *server.Config) { c.ChatIdleTimeout = 3 * time.Second })
	resp := streamReq(t, s, tok, map[string]any{"model": "m", "messages": msgs(), "stream": true})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	ev := events(t, resp)
	require.Len(t, ev, 2)
	require.Equal(t, "0 ", content(t, ev[0]))
	require.JSONEq(t, `{"error": {"message": "the model server stopped sending (timed out)"}}`, ev[1])
	<-cancelled
}
