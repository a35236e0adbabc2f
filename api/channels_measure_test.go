package api_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/quiretest"
)

// A measurement, not a timed assertion (QUIRE_MEASURE=1): messages posted
// over REST in a group of 500 members reach each member's socket; reports
// p50/p99 of the time from just before each POST is sent to the event's
// arrival at every socket. It asserts only that every socket got every
// message, in order.
//
//	QUIRE_MEASURE=1 go test ./api -run MeasureChannelFanout -v -count=1
//
// QUIRE_MEASURE_CLIENT: go (default: Go sockets in a process of their own,
// fanout_client_test.go) or node (socket.io-client, all sockets on one
// thread: it measures mostly itself). QUIRE_MEASURE_MEMBERS (500),
// QUIRE_MEASURE_MESSAGES (50, at 10/s). QUIRE_MEASURE_CPUPROFILE=file
// profiles the server (this process) while the messages are posted.
// Backend: PostgreSQL when QUIRE_TEST_DATABASE_URL is set and
// QUIRE_MEASURE_DB=postgres, else SQLite. Logs at info, the default level.
func TestMeasureChannelFanout(t *testing.T) {
	if os.Getenv("QUIRE_MEASURE") == "" {
		t.Skip("set QUIRE_MEASURE=1 to measure")
	}
	members := envInt("QUIRE_MEASURE_MEMBERS", 500)
	messages := envInt("QUIRE_MEASURE_MESSAGES", 50)
	opts := []quiretest.Option{quiretest.WithLogLevel(slog.LevelInfo)}
	if os.Getenv("QUIRE_MEASURE_DB") == "postgres" {
		opts = append(opts, quiretest.WithPostgres())
	}
	s := quiretest.New(t, opts...)
	poster := s.SignUp("Poster")
	tokens, ids := make([]string, members), make([]string, members)
	for i := range members {
		u := s.SignUp("m" + strconv.Itoa(i))
		tokens[i], ids[i] = u.Token, u.ID
	}
	ch := createChannel(s, poster.Token, map[string]any{"name": "big", "type": "group", "user_ids": ids})

	cfg, err := json.Marshal(fanoutConfig{URL: s.URL, Channel: ch.ID, Tokens: tokens, Poster: poster.Token,
		Messages: messages, Rate: 10})
	require.NoError(t, err)
	var cmd *exec.Cmd
	if os.Getenv("QUIRE_MEASURE_CLIENT") == "node" {
		cmd = exec.Command("node", filepath.Join("testdata", "channelfanout.mjs"))
	} else {
		cmd = exec.Command(os.Args[0], "-test.run=^TestFanoutClientProcess$", "-test.count=1",
			"-test.cpuprofile="+os.Getenv("QUIRE_MEASURE_CLIENT_CPUPROFILE"))
		cmd.Env = append(os.Environ(), fanoutClientEnv+"=1")
	}
	cmd.Stdin = strings.NewReader(string(cfg) + "\n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	// The server's CPU time per message, from the first POST to the last
	// arrival (the client says when), and its profile if asked for.
	var last []byte
	var cpu0, serverCPU time.Duration
	profiling := false
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		switch line := sc.Bytes(); {
		case bytes.Equal(line, []byte(`{"phase":"posting"}`)):
			cpu0 = cpuTime()
			if f := os.Getenv("QUIRE_MEASURE_CPUPROFILE"); f != "" {
				out, err := os.Create(f)
				require.NoError(t, err)
				defer out.Close()
				require.NoError(t, pprof.StartCPUProfile(out))
				profiling = true
			}
		case bytes.Equal(line, []byte(`{"phase":"done"}`)):
			serverCPU = cpuTime() - cpu0
			if profiling {
				pprof.StopCPUProfile()
				profiling = false
			}
		case bytes.HasPrefix(line, []byte("{")):
			last = bytes.Clone(line)
		}
	}
	if profiling {
		pprof.StopCPUProfile()
	}
	require.NoError(t, cmd.Wait(), "client: %s %s", last, stderr.Bytes())
	t.Logf("channel fan-out: %s server_cpu_ms_per_message=%.2f", last, ms(serverCPU)/float64(messages))
	var res fanoutResult
	require.NoError(t, json.Unmarshal(last, &res), "client output: %q", last)
	require.Equal(t, res.Want, res.Deliveries, "every member's socket gets every message")
	require.Zero(t, res.OutOfOrder, "each socket gets the messages in the order posted")
	s.JSON("GET", chans+ch.ID+"/messages?limit=1", poster.Token, nil, http.StatusOK, nil)
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}
