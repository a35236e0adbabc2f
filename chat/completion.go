package chat

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// Errors of a completion. An *UpstreamError carries the upstream's own
// status and message.
var (
	ErrUnreachable = errors.New("the model server could not be reached")
	ErrNoAnswer    = errors.New("the model server did not answer in time")
	ErrNotStream   = errors.New("the model server did not answer with an event stream")
	ErrStalled     = errors.New("the model server stopped sending (timed out)")
	ErrTruncated   = errors.New("the model server's answer ended early")
	ErrLineTooLong = errors.New("the model server sent a chunk that is too long")
	ErrStopped     = errors.New("the server is shutting down")
	ErrTooSlow     = errors.New("the model server did not finish its answer in time")
)

// UpstreamError is an upstream's error answer.
type UpstreamError struct {
	Status  int
	Message string // summary of the upstream's message, safe to show
}

func (e *UpstreamError) Error() string {
	return fmt.Sprintf("the model server answered %d: %s", e.Status, e.Message)
}

// Response is an upstream's successful answer to a completion; Close it.
type Response struct {
	*http.Response
	c        *Client
	upstream string // its base URL, for the logs
	ctx      context.Context
	cancel   context.CancelFunc
	// timer fires after IdleTimeout without progress (streams), or
	// Timeout after the request (JSON answers); it sets stalled.
	timer   *time.Timer
	stalled atomic.Bool
	// stopping is set when the Client stops; unwatch forgets the Client.
	stopping atomic.Bool
	unwatch  func() bool
}

// Close cancels the upstream request and frees its connection.
func (r *Response) Close() {
	r.timer.Stop()
	r.unwatch()
	r.cancel()
	_ = r.Body.Close()
}

// Complete sends body (an OpenAI chat completion request) to upstream i's
// POST /chat/completions. The request ends when ctx does or on Close. With
// stream, the headers must come within IdleTimeout and be an event stream;
// without, the whole answer must have come within Timeout (its Body's
// reads then fail with ErrTooSlow).
func (c *Client) Complete(ctx context.Context, i int, body []byte, stream bool) (*Response, error) {
	if i < 0 || i >= len(c.cfg.Upstreams) {
		return nil, fmt.Errorf("chat: no upstream %d", i)
	}
	up := c.cfg.Upstreams[i]
	ctx, cancel := context.WithCancel(ctx)
	r := &Response{c: c, upstream: up.BaseURL, ctx: ctx, cancel: cancel}
	wait := c.cfg.Timeout
	if stream {
		wait = c.cfg.IdleTimeout
	}
	r.timer = time.AfterFunc(wait, func() { r.stalled.Store(true); cancel() })
	r.unwatch = context.AfterFunc(c.stopped, func() { r.stopping.Store(true); cancel() })
	fail := func(err error) (*Response, error) {
		r.timer.Stop()
		r.unwatch()
		cancel()
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, up.BaseURL+"/chat/completions", bytes.NewReader(body))
	if err != nil {
		return fail(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if stream {
		req.Header.Set("Accept", "text/event-stream")
	}
	setAuth(req, up)
	resp, err := c.http.Do(req)
	if err != nil {
		if r.stopping.Load() {
			return fail(ErrStopped)
		}
		if r.stalled.Load() {
			c.log.WarnContext(ctx, "upstream sent no answer in time", "upstream", up.BaseURL, "timeout", wait)
			return fail(ErrNoAnswer)
		}
		if ctx.Err() != nil {
			return fail(context.Cause(ctx))
		}
		c.log.WarnContext(ctx, "upstream unreachable", "upstream", up.BaseURL, "err", err)
		return fail(ErrUnreachable)
	}
	r.Response = resp
	if resp.StatusCode >= 300 {
		ue := &UpstreamError{Status: resp.StatusCode, Message: errorMessage(resp)}
		r.Close()
		c.log.WarnContext(ctx, "upstream refused a completion", "upstream", up.BaseURL, "status", resp.StatusCode, "message", ue.Message)
		return nil, ue
	}
	if stream {
		if ct := resp.Header.Get("Content-Type"); !isEventStream(ct) {
			r.Close()
			c.log.WarnContext(ctx, "upstream answered a streamed completion without an event stream", "upstream", up.BaseURL, "content_type", ct)
			return nil, ErrNotStream
		}
		r.timer.Reset(c.cfg.IdleTimeout)
	} else {
		resp.Body = &jsonBody{ReadCloser: resp.Body, r: r}
	}
	return r, nil
}

// jsonBody is a JSON answer's body: a read cut by Timeout or by the
// server's stop says so, rather than that the request was cancelled.
type jsonBody struct {
	io.ReadCloser
	r *Response
}

func (b *jsonBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		switch {
		case b.r.stopping.Load():
			err = ErrStopped
		case b.r.stalled.Load():
			err = ErrTooSlow
		}
	}
	return n, err
}

func isEventStream(contentType string) bool {
	mt, _, _ := mime.ParseMediaType(contentType)
	return mt == "text/event-stream"
}

// errorMessage is the message of an upstream's error answer. An HTML page
// (a proxy's or load balancer's error page) says no more than its status,
// and its markup is no message to show.
func errorMessage(resp *http.Response) string {
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "text/html" {
		if text := http.StatusText(resp.StatusCode); text != "" {
			return text
		}
	}
	return summarize(resp.Body)
}

// summarize extracts the message of an upstream error body (OpenAI's
// {"error": {"message"}}, {"detail"}, {"message"}, or text), shortened.
func summarize(body io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(body, maxErrorBytes))
	var v struct {
		Error   json.RawMessage `json:"error"`
		Detail  any             `json:"detail"`
		Message string          `json:"message"`
	}
	msg := ""
	if json.Unmarshal(b, &v) == nil {
		var e struct {
			Message string `json:"message"`
		}
		var s string
		switch {
		case json.Unmarshal(v.Error, &e) == nil && e.Message != "":
			msg = e.Message
		case json.Unmarshal(v.Error, &s) == nil && s != "":
			msg = s
		case v.Detail != nil:
			msg = fmt.Sprint(v.Detail)
		default:
			msg = v.Message
		}
	} else {
		msg = string(b)
	}
	msg = strings.Join(strings.Fields(strings.ToValidUTF8(msg, "")), " ")
	if msg == "" {
		return "no message"
	}
	if r := []rune(msg); len(r) > 300 {
		msg = string(r[:300]) + "…"
	}
	return msg
}

// Flusher sends what was written to the client at once.
type Flusher func() error

// Relay copies the upstream's events to w as `data: …` events, flushing
// each, until `data: [DONE]`, which it relays too (and sends when a
// finished answer's body ends without it: endsClean). Comments, event names and
// ids are dropped. Memory is one line. On an upstream fault (stall, early
// end, broken connection) it writes `data: {"error": {"message"}}` and
// returns the fault; a failed write to w (the client left) is returned as
// is. The caller still calls Close.
func (r *Response) Relay(w io.Writer, flush Flusher) error {
	lines := r.lines()
	pending := false
	finished := false // a chunk gave a finish_reason
	for {
		line, err := lines.next()
		if err != nil {
			if !pending && lines.endsClean(err, finished) {
				if _, err := w.Write(doneEvent); err != nil {
					return err
				}
				return flush()
			}
			if isFault(err) {
				return r.fault(w, flush, pending, err)
			}
			return err // the client left: nobody to tell
		}
		if len(line) == 0 { // end of an event
			if pending {
				if _, err := w.Write(eventEnd); err != nil {
					return err
				}
				if err := flush(); err != nil {
					return err
				}
				pending = false
			}
			continue
		}
		data, ok := dataOf(line)
		if !ok {
			continue // comment, event, id, retry
		}
		if !pending && bytes.Equal(data, done) {
			if _, err := w.Write(doneEvent); err != nil {
				return err
			}
			return flush()
		}
		finished = finished || finishes(data)
		if _, err := w.Write(dataPrefix); err != nil {
			return err
		}
		if _, err := w.Write(data); err != nil {
			return err
		}
		if _, err := w.Write(newline); err != nil {
			return err
		}
		pending = true
	}
}

// lineReader reads an event stream line by line for Relay and Deltas:
// one buffer of memory (a longer line is gathered up to MaxLineBytes), the
// idle timer reset by every line, and a failed read turned into the fault
// it means.
type lineReader struct {
	r    *Response
	br   *bufio.Reader
	long []byte // only for a line longer than br's buffer
	// clean: the last error was the body's clean end, at a line's end
	// (not a cut connection, nor an unfinished line).
	clean bool
}

func (r *Response) lines() *lineReader {
	return &lineReader{r: r, br: bufio.NewReaderSize(r.Body, 32<<10)}
}

// next returns the next line without its line ending, valid until the next
// call; "" ends an event. Its errors are an upstream fault (isFault:
// ErrStopped, ErrStalled, ErrTruncated, ErrLineTooLong) or, when the
// request's context ended, that context's cause (the caller gave up).
func (l *lineReader) next() ([]byte, error) {
	r := l.r
	limit := r.c.cfg.MaxLineBytes
	for {
		chunk, err := l.br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if len(l.long)+len(chunk) > limit {
				return nil, ErrLineTooLong
			}
			l.long = append(l.long, chunk...)
			continue
		}
		if err != nil {
			switch {
			case r.stopping.Load():
				return nil, ErrStopped
			case r.stalled.Load():
				return nil, ErrStalled
			case r.ctx.Err() != nil:
				return nil, context.Cause(r.ctx)
			}
			l.clean = err == io.EOF && len(chunk) == 0 && len(l.long) == 0
			return nil, ErrTruncated
		}
		r.timer.Reset(r.c.cfg.IdleTimeout)
		if len(l.long) > 0 {
			chunk = append(l.long, chunk...)
			l.long = l.long[:0]
		}
		if len(chunk) > limit {
			return nil, ErrLineTooLong
		}
		return bytes.TrimRight(chunk, "\r\n"), nil
	}
}

// endsClean reports whether err, from next, is the body's clean end after
// an answer that said it was finished (a finish_reason): some
// OpenAI-compatible servers end a whole answer without `data: [DONE]`,
// and Open WebUI takes the end of the body as the answer's end. A cut
// connection, or an end without a finish_reason, stays ErrTruncated.
func (l *lineReader) endsClean(err error, finished bool) bool {
	return finished && l.clean && errors.Is(err, ErrTruncated)
}

// finishes reports whether a chunk's data gives a finish_reason.
func finishes(data []byte) bool {
	if !bytes.Contains(data, finishReason) {
		return false
	}
	var c struct {
		Choices []struct {
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
	}
	if json.Unmarshal(data, &c) != nil {
		return false
	}
	for _, ch := range c.Choices {
		if ch.FinishReason != "" {
			return true
		}
	}
	return false
}

// isFault reports whether err is the upstream's fault rather than the
// caller giving up.
func isFault(err error) bool {
	return errors.Is(err, ErrStopped) || errors.Is(err, ErrStalled) ||
		errors.Is(err, ErrTruncated) || errors.Is(err, ErrLineTooLong)
}

// dataOf returns the value of a `data:` line.
func dataOf(line []byte) ([]byte, bool) {
	data, ok := bytes.CutPrefix(line, dataField)
	return bytes.TrimPrefix(data, space), ok
}

var (
	dataField  = []byte("data:")
	dataPrefix = []byte("data: ")
	space      = []byte(" ")
	newline    = []byte("\n")
	eventEnd   = []byte("\n")
	done       = []byte("[DONE]")
	// finishReason marks a chunk that may end the answer (finishes).
	finishReason = []byte(`"finish_reason"`)
	doneEvent    = []byte("data: [DONE]\n\n")
)

// logFault logs why the upstream's stream ended early: a warning, but
// for the server's own stop, which every open stream meets at shutdown.
func (r *Response) logFault(err error) {
	if errors.Is(err, ErrStopped) {
		r.c.log.DebugContext(r.ctx, "upstream stream ended: the server is stopping", "upstream", r.upstream)
		return
	}
	r.c.log.WarnContext(r.ctx, "upstream stream failed", "upstream", r.upstream, "err", err)
}

// fault ends the client's stream with an error event (the frontend stops on
// it) and returns err.
func (r *Response) fault(w io.Writer, flush Flusher, pending bool, err error) error {
	r.logFault(err)
	b, _ := json.Marshal(map[string]any{"error": map[string]string{"message": err.Error()}})
	if pending { // close the event begun (its lines were whole)
		_, _ = w.Write(eventEnd)
	}
	_, _ = w.Write(dataPrefix)
	_, _ = w.Write(b)
	_, _ = w.Write([]byte("\n\n"))
	_ = flush()
	return err
}
