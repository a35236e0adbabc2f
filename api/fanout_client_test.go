package api_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// The Go side of TestMeasureChannelFanout: a load client in its own
// process (this test binary run again, so its scheduler and GC stay out of
// the server's), one goroutine per socket. Like the thin clients of the
// shared bench, it speaks Engine.IO 4 / Socket.IO 5 text frames directly;
// it decodes each event in full, as a browser's JSON.parse would. One Node
// thread reading 500 socket.io-client sockets took longer to read a
// message's 500 copies than the server took to send them, which made the
// old measurement a measurement of the client.

// fanoutConfig is what the client reads from stdin, one JSON line.
type fanoutConfig struct {
	URL      string   `json:"url"`
	Channel  string   `json:"channel"`
	Tokens   []string `json:"tokens"`
	Poster   string   `json:"poster"`
	Messages int      `json:"messages"`
	Rate     float64  `json:"rate"`
}

// fanoutResult is the client's last stdout line: latencies in ms from
// just before a POST is sent to an event's arrival at each socket.
type fanoutResult struct {
	Members    int     `json:"members"`
	Messages   int     `json:"messages"`
	Deliveries int     `json:"deliveries"`
	Want       int     `json:"want"`
	OutOfOrder int     `json:"out_of_order"` // arrivals after a later message, at the same socket
	P50        float64 `json:"p50"`
	P99        float64 `json:"p99"`
	Max        float64 `json:"max"`
	PostP50    float64 `json:"postP50"` // the POST's own round trip
	PostP99    float64 `json:"postP99"`
	SpreadP50  float64 `json:"spreadP50"` // one message's first to last arrival
	SpreadP99  float64 `json:"spreadP99"`
	EventBytes int     `json:"event_bytes"` // the largest event's size
	// CPUms is the client's CPU time per message while posting.
	CPUms float64 `json:"client_cpu_ms_per_message"`
}

const fanoutClientEnv = "QUIRE_FANOUT_CLIENT"

// TestFanoutClientProcess is the client process's entry point; it runs
// only when TestMeasureChannelFanout starts this binary with the variable.
func TestFanoutClientProcess(t *testing.T) {
	if os.Getenv(fanoutClientEnv) == "" {
		t.Skip("the measuring client of TestMeasureChannelFanout")
	}
	var cfg fanoutConfig
	line, err := bufio.NewReader(os.Stdin).ReadBytes('\n')
	if err == nil {
		err = json.Unmarshal(line, &cfg)
	}
	if err == nil {
		var res fanoutResult
		if res, err = runFanoutClient(cfg, os.Stdout); err == nil {
			err = json.NewEncoder(os.Stdout).Encode(res)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fanout client:", err)
		os.Exit(1)
	}
}

// fanoutSocket is one member's connection.
type fanoutSocket struct {
	ws      *websocket.Conn
	writeMu sync.Mutex
	acks    chan string // ack packets' payloads
	last    int         // reader-owned: the latest message index seen
	kept    []byte      // reader-owned: the events received, back to back
	count   atomic.Int64
}

// keptPerMessage is the room reserved per expected event in
// fanoutSocket.kept, touched before the measurement starts: first touches
// of fresh heap pages (page faults) cost the client more than the copies.
const keptPerMessage = 2048

// newKept returns an empty buffer for messages events, every page touched.
func newKept(messages int) []byte {
	b := make([]byte, messages*keptPerMessage)
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	return b[:0]
}

func (s *fanoutSocket) send(text string) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	return s.ws.WriteMessage(websocket.TextMessage, []byte(text))
}

// arrival is one event received: message index k at time at, and the
// packet, decoded once the measurement is over.
type arrival struct {
	k   int
	at  time.Time
	msg []byte
}

// runFanoutClient connects every member, joins the channel rooms, posts
// cfg.Messages messages at cfg.Rate and gathers every arrival. It writes
// {"phase":"posting"} to progress just before the first POST.
func runFanoutClient(cfg fanoutConfig, progress io.Writer) (fanoutResult, error) {
	wsURL := "ws" + strings.TrimPrefix(cfg.URL, "http") + "/ws/socket.io/?EIO=4&transport=websocket"
	n := len(cfg.Tokens)
	socks := make([]*fanoutSocket, n)
	arrivals := make([][]arrival, n) // per socket, each written by its reader only
	sentAt := make([]atomic.Int64, cfg.Messages)
	outOfOrder := atomic.Int64{}
	var readers sync.WaitGroup
	errs := make(chan error, n)
	start := time.Now() // sentAt and arrivals are durations since start: one monotonic clock

	connect := func(i int) error {
		ws, _, err := websocket.DefaultDialer.Dial(wsURL, nil)
		if err != nil {
			return err
		}
		s := &fanoutSocket{ws: ws, acks: make(chan string, 1), last: -1, kept: newKept(cfg.Messages)}
		arrivals[i] = make([]arrival, 0, cfg.Messages)
		_ = ws.SetReadDeadline(time.Now().Add(30 * time.Second))
		if _, open, err := ws.ReadMessage(); err != nil || !bytes.HasPrefix(open, []byte("0{")) {
			return fmt.Errorf("engine open: %q %v", open, err)
		}
		auth, _ := json.Marshal(map[string]string{"token": cfg.Tokens[i]})
		if err := s.send("40" + string(auth)); err != nil {
			return err
		}
		for {
			_, msg, err := ws.ReadMessage()
			if err != nil {
				return fmt.Errorf("socket.io connect: %w", err)
			}
			if bytes.HasPrefix(msg, []byte("40")) {
				break
			}
			if bytes.HasPrefix(msg, []byte("44")) {
				return fmt.Errorf("socket.io connect refused: %s", msg)
			}
		}
		_ = ws.SetReadDeadline(time.Time{})
		socks[i] = s
		readers.Go(func() {
			if err := s.read(i, sentAt, &arrivals[i], &outOfOrder); err != nil {
				errs <- err
			}
		})
		join, _ := json.Marshal([]any{"join-channels", map[string]any{"auth": map[string]string{"token": cfg.Tokens[i]}}})
		if err := s.send("420" + string(join)); err != nil {
			return err
		}
		select {
		case ack := <-s.acks:
			if ack != `[{"ok":true}]` {
				return fmt.Errorf("join-channels: %s", ack)
			}
		case <-time.After(20 * time.Second):
			return errors.New("join-channels: no ack in 20 s")
		}
		return nil
	}
	defer func() {
		for _, s := range socks {
			if s != nil {
				_ = s.ws.Close()
			}
		}
		readers.Wait()
	}()
	for lo := 0; lo < n; lo += 50 { // 50 connects at a time
		var g sync.WaitGroup
		cerr := make(chan error, 50)
		for i := lo; i < min(n, lo+50); i++ {
			g.Go(func() {
				if err := connect(i); err != nil {
					cerr <- fmt.Errorf("socket %d: %w", i, err)
				}
			})
		}
		g.Wait()
		close(cerr)
		if err := <-cerr; err != nil {
			return fanoutResult{}, err
		}
	}

	_, _ = io.WriteString(progress, `{"phase":"posting"}`+"\n")
	cpu0 := cpuTime()
	hc := &http.Client{Timeout: 30 * time.Second}
	post := make([]float64, 0, cfg.Messages)
	interval := time.Duration(float64(time.Second) / cfg.Rate)
	postStart := time.Now()
	for k := range cfg.Messages {
		time.Sleep(time.Until(postStart.Add(time.Duration(k) * interval)))
		body, _ := json.Marshal(map[string]string{"content": "message " + strconv.Itoa(k), "temp_id": "m" + strconv.Itoa(k)})
		req, _ := http.NewRequest(http.MethodPost, cfg.URL+"/api/v1/channels/"+cfg.Channel+"/messages/post", bytes.NewReader(body))
		req.Header.Set("authorization", "Bearer "+cfg.Poster)
		req.Header.Set("content-type", "application/json")
		t0 := time.Now()
		sentAt[k].Store(int64(t0.Sub(start)))
		res, err := hc.Do(req)
		if err != nil {
			return fanoutResult{}, fmt.Errorf("post %d: %w", k, err)
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil || res.StatusCode != http.StatusOK {
			return fanoutResult{}, fmt.Errorf("post %d: %d %s %v", k, res.StatusCode, b, err)
		}
		post = append(post, ms(time.Since(t0)))
	}

	want := cfg.Messages * n
	deadline := time.Now().Add(20 * time.Second)
	count := func() (c int) {
		for i := range socks {
			c += int(socks[i].count.Load())
		}
		return c
	}
	for count() < want && time.Now().Before(deadline) {
		select {
		case err := <-errs:
			return fanoutResult{}, err
		case <-time.After(20 * time.Millisecond):
		}
	}
	cpu := cpuTime() - cpu0
	_, _ = io.WriteString(progress, `{"phase":"done"}`+"\n")
	for _, s := range socks {
		_ = s.ws.Close()
	}
	readers.Wait()

	var lat []float64
	eventBytes := 0
	first := make([]time.Duration, cfg.Messages)
	last := make([]time.Duration, cfg.Messages)
	for _, as := range arrivals {
		for _, a := range as {
			if err := a.check(); err != nil {
				return fanoutResult{}, err
			}
			eventBytes = max(eventBytes, len(a.msg))
			at := a.at.Sub(start)
			lat = append(lat, ms(at-time.Duration(sentAt[a.k].Load())))
			if first[a.k] == 0 || at < first[a.k] {
				first[a.k] = at
			}
			last[a.k] = max(last[a.k], at)
		}
	}
	spread := make([]float64, cfg.Messages)
	for k := range spread {
		spread[k] = ms(last[k] - first[k])
	}
	return fanoutResult{
		Members: n, Messages: cfg.Messages, Deliveries: len(lat), Want: want, OutOfOrder: int(outOfOrder.Load()),
		P50: pct(lat, 0.5), P99: pct(lat, 0.99), Max: pct(lat, 1),
		PostP50: pct(post, 0.5), PostP99: pct(post, 0.99),
		SpreadP50: pct(spread, 0.5), SpreadP99: pct(spread, 0.99),
		CPUms: ms(cpu) / float64(cfg.Messages), EventBytes: eventBytes,
	}, nil
}

// read is the socket's reader: it answers pings, hands acks over, and
// timestamps each event that carries a temp_id on arrival. While the
// measurement runs it only finds the temp_id; check decodes every event
// in full afterwards, so the client's CPU does not compete with the
// server's for longer than reading takes.
func (s *fanoutSocket) read(i int, sentAt []atomic.Int64, out *[]arrival, outOfOrder *atomic.Int64) error {
	var buf bytes.Buffer
	for {
		_, r, err := s.ws.NextReader()
		if err == nil {
			buf.Reset()
			_, err = buf.ReadFrom(r)
		}
		if err != nil {
			if errors.Is(err, net.ErrClosed) || websocket.IsCloseError(err, websocket.CloseNormalClosure) {
				return nil
			}
			return fmt.Errorf("socket %d: %w", i, err)
		}
		at := time.Now()
		msg := buf.Bytes()
		switch {
		case string(msg) == "2": // Engine.IO ping
			if err := s.send("3"); err != nil {
				return err
			}
		case bytes.HasPrefix(msg, []byte("430")):
			s.acks <- string(msg[3:])
		case bytes.HasPrefix(msg, []byte("42[")):
			const key = `"temp_id":"m`
			j := bytes.Index(msg, []byte(key))
			if j < 0 {
				continue // not a message of this run
			}
			digits := msg[j+len(key):]
			digits = digits[:max(0, bytes.IndexByte(digits, '"'))]
			k, err := strconv.Atoi(string(digits))
			if err != nil || k < 0 || k >= len(sentAt) {
				return fmt.Errorf("socket %d: unknown temp_id in %q", i, msg)
			}
			if k < s.last {
				outOfOrder.Add(1)
			}
			s.last = max(s.last, k)
			from := len(s.kept)
			s.kept = append(s.kept, msg...)
			*out = append(*out, arrival{k: k, at: at, msg: s.kept[from:len(s.kept):len(s.kept)]})
			s.count.Add(1)
		}
	}
}

// check decodes an arrival's packet in full: an events:channel message
// event whose temp_id is the one it was counted for.
func (a arrival) check() error {
	var name string
	var e struct {
		Data struct {
			Type string `json:"type"`
			Data struct {
				TempID string `json:"temp_id"`
			} `json:"data"`
		} `json:"data"`
	}
	if err := json.Unmarshal(a.msg[2:], &[2]any{&name, &e}); err != nil {
		return fmt.Errorf("bad event %q: %w", a.msg, err)
	}
	if name != "events:channel" || e.Data.Type != "message" || e.Data.Data.TempID != "m"+strconv.Itoa(a.k) {
		return fmt.Errorf("event %q counted as message %d", a.msg, a.k)
	}
	return nil
}

// cpuTime is this process's CPU time so far, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// pct is the p-quantile of v (nearest rank), as the Node client computed it.
func pct(v []float64, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}
