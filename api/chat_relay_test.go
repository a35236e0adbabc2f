package api_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/chat/chattest"
	"github.com/quire/quire/quiretest"
	"github.com/quire/quire/server"
)

// TestChatConcurrentStreams: 200 streams of 1,000 chunks at once, each
// arriving whole and in order.
func TestChatConcurrentStreams(t *testing.T) {
	t.Parallel()
	const streams, chunks = 200, 1000
	up := chattest.New(t)
	// The run outlasts the model list's 10 s cache; the refresh must not
	// time out while the upstream serves 200 streams (quiretest's minute).
	s, tok := chatServer(t, up.BaseURL, "")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: streams}, Timeout: 5 * time.Minute}
	t.Cleanup(client.CloseIdleConnections)

	errs := make(chan error, streams)
	var wg sync.WaitGroup
	for n := range streams {
		wg.Go(func() { errs <- checkStream(client, s.URL+"/api/chat/completions", tok, n, chunks) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

func checkStream(client *http.Client, url, tok string, n, chunks int) error {
	resp, err := postStream(client, url, tok, chunks)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("stream %d: status %d", n, resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	i := 0
	for sc.Scan() {
		d, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		if d == "[DONE]" {
			if i != chunks {
				return fmt.Errorf("stream %d: [DONE] after %d chunks", n, i)
			}
			return nil
		}
		var c struct {
			Choices []struct {
				Delta struct{ Content string } `json:"delta"`
			} `json:"choices"`
		}
		if err := json.Unmarshal([]byte(d), &c); err != nil || len(c.Choices) != 1 {
			return fmt.Errorf("stream %d: bad event %q", n, d)
		}
		if want := fmt.Sprintf("%d ", i); c.Choices[0].Delta.Content != want {
			return fmt.Errorf("stream %d: chunk %d is %q", n, i, c.Choices[0].Delta.Content)
		}
		i++
	}
	return fmt.Errorf("stream %d: ended after %d chunks without [DONE] (%v)", n, i, sc.Err())
}

func postStream(client *http.Client, url, tok string, chunks int) (*http.Response, error) {
	body := fmt.Sprintf(`{"model":"ok","stream":true,"max_tokens":%d,"messages":[{"role":"user","content":"hi"}]}`, chunks)
	req, err := http.NewRequest("POST", url, bytes.NewReader([]byte(body)))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	return client.Do(req)
}

// BenchmarkChatRelay compares, through Quire and directly from the test
// upstream: time to the first event (ttfb-p50/p99-µs) and CPU seconds per
// 1,000 chunks (whole process: client, Quire and upstream; the difference
// of the two is Quire's share).
//
//	go test ./api -run '^$' -bench ChatRelay -benchtime 1000x
func BenchmarkChatRelay(b *testing.B) {
	up := chattest.New(b)
	s := quiretest.New(b, quiretest.WithLogLevel(slog.LevelWarn), quiretest.WithConfig(func(c *server.Config) {
		c.OpenAIBaseURLs = up.BaseURL
	}))
	tok := s.SignUp("bench").Token
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	b.Cleanup(client.CloseIdleConnections)
	// The cost of a signed-in request alone (token check: two database
	// reads), to tell it from the relay's.
	b.Run("ttfb/quire-authed-get-models", func(b *testing.B) {
		var ds []time.Duration
		for b.Loop() {
			start := time.Now()
			req, _ := http.NewRequest("GET", s.URL+"/api/models", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := client.Do(req)
			require.NoError(b, err)
			_, err = io.Copy(io.Discard, resp.Body)
			require.NoError(b, err)
			ds = append(ds, time.Since(start))
			resp.Body.Close()
		}
		reportTTFB(b, ds)
	})
	for _, target := range []struct{ name, url, tok string }{
		{"direct", up.BaseURL + "/chat/completions", ""},
		{"quire", s.URL + "/api/chat/completions", tok},
	} {
		b.Run("ttfb/"+target.name, func(b *testing.B) {
			var ds []time.Duration
			for b.Loop() {
				start := time.Now()
				resp, err := postStream(client, target.url, target.tok, 1)
				require.NoError(b, err)
				br := bufio.NewReader(resp.Body)
				_, err = br.ReadString('\n')
				require.NoError(b, err)
				ds = append(ds, time.Since(start))
				_, _ = br.WriteTo(io.Discard)
				resp.Body.Close()
			}
			reportTTFB(b, ds)
		})
		b.Run("cpu-1000-chunks/"+target.name, func(b *testing.B) {
			before := cpu()
			for b.Loop() {
				resp, err := postStream(client, target.url, target.tok, 1000)
				require.NoError(b, err)
				n, err := bytes.NewBuffer(nil).ReadFrom(resp.Body)
				require.NoError(b, err)
				require.Greater(b, n, int64(1000*50))
				resp.Body.Close()
			}
			b.ReportMetric((cpu()-before).Seconds()/float64(b.N), "cpu-s/1000chunks")
		})
	}
}

func reportTTFB(b *testing.B, ds []time.Duration) {
	slices.Sort(ds)
	b.ReportMetric(float64(ds[len(ds)/2].Microseconds()), "ttfb-p50-µs")
	b.ReportMetric(float64(ds[len(ds)*99/100].Microseconds()), "ttfb-p99-µs")
}

// cpu is the process's user plus system CPU time.
func cpu() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
