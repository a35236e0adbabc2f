package chat

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Defaults.
const (
	ModelsTimeoutDefault = 5 * time.Second
	ModelsTTLDefault     = 10 * time.Second
	IdleTimeoutDefault   = 60 * time.Second
	TimeoutDefault       = 300 * time.Second
	MaxLineBytesDefault  = 1 << 20
	// maxModelsBytes caps one upstream's /models answer.
	maxModelsBytes = 8 << 20
	// maxErrorBytes caps the part of an upstream error body that is read.
	maxErrorBytes = 64 << 10
)

// Upstream is one OpenAI-compatible server.
type Upstream struct {
	BaseURL string // e.g. https://api.openai.com/v1, without /models
	APIKey  string // sent as Bearer; empty: no Authorization header
}

// Config configures a Client.
type Config struct {
	// Upstreams in order; a model offered by several is served by the first.
	// Empty: no models.
	Upstreams []Upstream
	// HTTPClient sends every upstream request. Nil: a client of its own
	// (no overall timeout: streams are long; the timeouts below bound it).
	HTTPClient *http.Client
	// ModelsTimeout bounds one upstream's GET /models. Zero: ModelsTimeoutDefault.
	ModelsTimeout time.Duration
	// ModelsTTL is how long a gathered model list is reused. Zero: ModelsTTLDefault.
	ModelsTTL time.Duration
	// IdleTimeout bounds the wait for a streaming answer's headers and then
	// between two of its lines. Zero: IdleTimeoutDefault.
	IdleTimeout time.Duration
	// Timeout bounds a non-streamed completion as a whole, from the request
	// to the answer's last byte: an upstream may otherwise send its headers
	// and then a byte now and then forever. Streams are bounded by
	// IdleTimeout only: a long answer keeps sending. Zero: TimeoutDefault.
	Timeout time.Duration
	// MaxLineBytes bounds one line of a streamed answer. Zero: MaxLineBytesDefault.
	MaxLineBytes int
	// Logger; nil: discard.
	Logger *slog.Logger
	// Now is the clock of the model cache. Nil: time.Now.
	Now func() time.Time
}

// ParseUpstreams turns Open WebUI's ';'-separated URL and key lists into
// upstreams (keys by position; a missing key is empty). Errors name flag.
func ParseUpstreams(urls, keys, urlFlag, keyFlag string) ([]Upstream, error) {
	if strings.TrimSpace(urls) == "" {
		if strings.TrimSpace(keys) != "" {
			return nil, fmt.Errorf("%s is set but %s is not", keyFlag, urlFlag)
		}
		return nil, nil
	}
	var ups []Upstream
	for _, raw := range strings.Split(urls, ";") {
		raw = strings.TrimSpace(raw)
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("%s %q: want http://host[:port][/path] or https://…, ';'-separated", urlFlag, raw)
		}
		ups = append(ups, Upstream{BaseURL: strings.TrimRight(raw, "/")})
	}
	if strings.TrimSpace(keys) != "" {
		ks := strings.Split(keys, ";")
		if len(ks) > len(ups) {
			return nil, fmt.Errorf("%s has %d keys for %d URLs in %s", keyFlag, len(ks), len(ups), urlFlag)
		}
		for i, k := range ks {
			ups[i].APIKey = strings.TrimSpace(k)
		}
	}
	return ups, nil
}

// Model is one model of an upstream, as /api/models lists it.
type Model struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Object   string `json:"object"`
	Created  int64  `json:"created"`
	OwnedBy  string `json:"owned_by"`
	Upstream int    `json:"urlIdx"` // index into Config.Upstreams
}

// Client gathers models and sends completions.
type Client struct {
	cfg  Config
	http *http.Client
	log  *slog.Logger

	// refresh serialises model gathering (single flight); mu guards the rest.
	refresh sync.Mutex
	mu      sync.Mutex
	models  []Model
	byID    map[string]int
	fetched time.Time
	failing []bool // per upstream: its last /models failed (log once)

	// stopped ends every completion when the server stops.
	stopped context.Context
	stop    context.CancelFunc
}

// New checks cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	cfg.ModelsTimeout = cmp.Or(cfg.ModelsTimeout, ModelsTimeoutDefault)
	cfg.ModelsTTL = cmp.Or(cfg.ModelsTTL, ModelsTTLDefault)
	cfg.IdleTimeout = cmp.Or(cfg.IdleTimeout, IdleTimeoutDefault)
	cfg.Timeout = cmp.Or(cfg.Timeout, TimeoutDefault)
	cfg.MaxLineBytes = cmp.Or(cfg.MaxLineBytes, MaxLineBytesDefault)
	if cfg.ModelsTimeout < 0 || cfg.ModelsTTL < 0 || cfg.IdleTimeout < 0 || cfg.Timeout < 0 || cfg.MaxLineBytes < 0 {
		return nil, errors.New("chat: timeouts and limits must not be negative")
	}
	for i, u := range cfg.Upstreams {
		if _, err := ParseUpstreams(u.BaseURL, "", "upstream", ""); err != nil || strings.Contains(u.BaseURL, ";") {
			return nil, fmt.Errorf("chat: upstream %d: bad base URL", i)
		}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout: 10 * time.Second,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     90 * time.Second,
			ForceAttemptHTTP2:   true,
		}}
	}
	stopped, stop := context.WithCancel(context.Background())
	return &Client{
		cfg: cfg, http: hc, log: log.With("component", "chat"), failing: make([]bool, len(cfg.Upstreams)),
		stopped: stopped, stop: stop,
	}, nil
}

// Stop ends every completion in progress (streams get an error event, so
// that a long answer does not hold the server's shutdown) and refuses new
// ones with ErrStopped. Idempotent.
func (c *Client) Stop() {
	c.stop()
	c.http.CloseIdleConnections()
}

// IdleTimeout is Config.IdleTimeout (or its default): how long a stream may
// go without progress.
func (c *Client) IdleTimeout() time.Duration { return c.cfg.IdleTimeout }

// CloseIdleConnections closes the idle upstream connections (shutdown, tests).
func (c *Client) CloseIdleConnections() { c.http.CloseIdleConnections() }

// Models returns every upstream's models, gathered at most ModelsTTL ago.
// An upstream that fails or answers too late is left out.
func (c *Client) Models(ctx context.Context) []Model {
	if m, ok := c.cached(); ok {
		return m
	}
	c.refresh.Lock()
	defer c.refresh.Unlock()
	if m, ok := c.cached(); ok { // another caller just gathered them
		return m
	}
	lists := make([][]Model, len(c.cfg.Upstreams))
	errs := make([]error, len(c.cfg.Upstreams))
	var wg sync.WaitGroup
	// The gathering outlives a caller that gives up, so the cache is filled
	// for the next one; each upstream's timeout bounds it, and Stop ends
	// it (a lookup must not hold the shutdown).
	base, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	defer context.AfterFunc(c.stopped, cancel)()
	for i := range c.cfg.Upstreams {
		wg.Go(func() { lists[i], errs[i] = c.fetchModels(base, i) })
	}
	wg.Wait()
	if c.stopped.Err() != nil {
		// Stopping: the lists cut short are neither cached nor logged as
		// failures; the last ones stand (a completion then meets ErrStopped).
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.models
	}

	var all []Model
	byID := map[string]int{}
	for i, l := range lists {
		c.noteFailure(ctx, i, errs[i])
		for _, m := range l {
			if _, dup := byID[m.ID]; dup {
				continue
			}
			byID[m.ID] = i
			all = append(all, m)
		}
	}
	c.mu.Lock()
	c.models, c.byID, c.fetched = all, byID, c.cfg.Now()
	c.mu.Unlock()
	return all
}

func (c *Client) cached() ([]Model, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byID == nil || c.cfg.Now().Sub(c.fetched) >= c.cfg.ModelsTTL {
		return nil, false
	}
	return c.models, true
}

// noteFailure logs an upstream's failure when it starts, and its recovery.
func (c *Client) noteFailure(ctx context.Context, i int, err error) {
	was := c.failing[i]
	c.failing[i] = err != nil
	switch {
	case err != nil && !was:
		c.log.WarnContext(ctx, "upstream model list failed; its models are left out", "upstream", c.cfg.Upstreams[i].BaseURL, "err", err)
	case err == nil && was:
		c.log.InfoContext(ctx, "upstream model list recovered", "upstream", c.cfg.Upstreams[i].BaseURL)
	}
}

func (c *Client) fetchModels(ctx context.Context, i int) ([]Model, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.ModelsTimeout)
	defer cancel()
	up := c.cfg.Upstreams[i]
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, up.BaseURL+"/models", nil)
	if err != nil {
		return nil, err
	}
	setAuth(req, up)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer drainClose(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /models: status %d", resp.StatusCode)
	}
	var body struct {
		Data []struct {
			ID      string `json:"id"`
			Name    string `json:"name"`
			Created int64  `json:"created"`
			OwnedBy string `json:"owned_by"`
		} `json:"data"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxModelsBytes)).Decode(&body); err != nil {
		return nil, fmt.Errorf("GET /models: %w", err)
	}
	out := make([]Model, 0, len(body.Data))
	for _, d := range body.Data {
		if d.ID == "" {
			continue
		}
		out = append(out, Model{
			ID: d.ID, Name: cmp.Or(d.Name, d.ID), Object: "model", Created: d.Created,
			OwnedBy: cmp.Or(d.OwnedBy, "openai"), Upstream: i,
		})
	}
	return out, nil
}

// Lookup returns the upstream serving model id.
func (c *Client) Lookup(ctx context.Context, id string) (int, bool) {
	c.Models(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	i, ok := c.byID[id]
	return i, ok
}

func setAuth(req *http.Request, up Upstream) {
	if up.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+up.APIKey)
	}
}

// drainClose reads a little of what is left, so that the connection can be
// reused, and closes the body.
func drainClose(b io.ReadCloser) {
	_, _ = io.CopyN(io.Discard, b, 4<<10)
	_ = b.Close()
}
