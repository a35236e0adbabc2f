package api_test

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/quiretest"
)

// A measurement, not an assertion (QUIRE_MEASURE=1): a message posted over
// REST in a group of 500 members reaches each member's socket; reports
// p50/p99 of post-to-arrival over every delivery. Backend: PostgreSQL when
// QUIRE_TEST_DATABASE_URL is set and QUIRE_MEASURE_DB=postgres, else SQLite.
//
//	QUIRE_MEASURE=1 go test ./api -run MeasureChannelFanout -v -count=1
func TestMeasureChannelFanout(t *testing.T) {
	if os.Getenv("QUIRE_MEASURE") == "" {
		t.Skip("set QUIRE_MEASURE=1 to measure")
	}
	members, _ := strconv.Atoi(os.Getenv("QUIRE_MEASURE_MEMBERS"))
	if members <= 0 {
		members = 500
	}
	var opts []quiretest.Option
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

	cfg, err := json.Marshal(map[string]any{"url": s.URL, "channel": ch.ID, "tokens": tokens, "poster": poster.Token,
		"messages": 50, "rate": 10})
	require.NoError(t, err)
	cmd := exec.Command("node", filepath.Join("testdata", "channelfanout.mjs"))
	cmd.Stdin = strings.NewReader(string(cfg) + "\n")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	t.Logf("channel fan-out: %s", out)
	s.JSON("GET", chans+ch.ID+"/messages?limit=1", poster.Token, nil, http.StatusOK, nil)
}
