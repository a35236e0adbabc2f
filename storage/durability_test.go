package storage_test

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/storage"
)

const killDBEnv = "QUIRE_STORAGE_TEST_KILL_DB"

// TestSQLiteAckedUpdatesSurviveKill runs an appender in a child process,
// kills it with SIGKILL mid-stream, and checks every update it reported as
// appended is in the reopened database.
func TestSQLiteAckedUpdatesSurviveKill(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "quire.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperAppender$")
	cmd.Env = append(os.Environ(), killDBEnv+"="+path)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	acked := map[int64]string{}
	lines := bufio.NewScanner(out)
	for len(acked) < 300 && lines.Scan() {
		id, data, ok := strings.Cut(strings.TrimPrefix(lines.Text(), "acked "), " ")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(id, 10, 64)
		require.NoError(t, err)
		acked[n] = data
	}
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	require.Len(t, acked, 300, "child output ended early")

	s, err := storage.OpenSQLite(context.Background(), path, testLogger(t))
	require.NoError(t, err)
	defer s.Close()
	doc, err := s.LoadDocument(context.Background(), "note:kill")
	require.NoError(t, err)
	stored := map[int64]string{}
	for _, r := range doc.Records {
		stored[r.ID] = string(r.Data)
	}
	for id, data := range acked {
		require.Equal(t, data, stored[id], "acknowledged update %d lost", id)
	}

	// The durability settings are the file's and the writer's.
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer db.Close()
	var mode string
	require.NoError(t, db.QueryRow("PRAGMA journal_mode").Scan(&mode))
	require.Equal(t, "wal", mode)
}

// TestHelperAppender is the child of TestSQLiteAckedUpdatesSurviveKill.
func TestHelperAppender(t *testing.T) {
	path := os.Getenv(killDBEnv)
	if path == "" {
		t.Skip("child process of TestSQLiteAckedUpdatesSurviveKill")
	}
	s, err := storage.OpenSQLite(context.Background(), path, nil)
	require.NoError(t, err)
	w := bufio.NewWriter(os.Stdout)
	for i := 0; ; i++ {
		data := fmt.Sprintf("u%d", i)
		ids, err := s.AppendUpdates(context.Background(), []storage.DocUpdate{{DocID: "note:kill", Data: []byte(data)}})
		require.NoError(t, err)
		fmt.Fprintf(w, "acked %d %s\n", ids[0], data)
		w.Flush()
	}
}
