package storage_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/storage"
)

// A private channel's readers are read on each of its edits; that read
// must find the accounts of a role through users_role, not by scanning
// every account.
func TestChannelAccountsReadThroughRoleIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			b.mustOpen(t) // migrates
			db := b.rawDB(t)
			conn, err := db.Conn(ctx)
			require.NoError(t, err)
			defer conn.Close()
			var query string
			var args []any
			if b.name == "postgres" {
				// An empty table is read cheapest by a scan; forbid it to
				// see whether an index can serve the condition at all.
				_, err = conn.ExecContext(ctx, "SET enable_seqscan = off")
				require.NoError(t, err)
				query = "EXPLAIN " + storage.PostgresChannelAccountsSQL
				args = []any{"admin", "c1"}
			} else {
				query = "EXPLAIN QUERY PLAN " + storage.SQLiteChannelAccountsSQL
				args = []any{"admin", "c1"}
			}
			rows, err := conn.QueryContext(ctx, query, args...)
			require.NoError(t, err)
			defer rows.Close()
			cols, err := rows.Columns()
			require.NoError(t, err)
			var plan strings.Builder
			for rows.Next() {
				vals := make([]any, len(cols))
				ptrs := make([]any, len(cols))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				require.NoError(t, rows.Scan(ptrs...))
				for _, v := range vals {
					if s, ok := v.(string); ok {
						plan.WriteString(s + "\n")
					} else if bs, ok := v.([]byte); ok {
						plan.WriteString(string(bs) + "\n")
					}
				}
			}
			require.NoError(t, rows.Err())
			require.Contains(t, plan.String(), "users_role", "plan:\n%s", plan.String())
		})
	}
}
