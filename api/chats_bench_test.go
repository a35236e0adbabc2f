package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// BenchmarkChatSave is the CPU of saving a long conversation over REST
// (whole process: client, handler and SQLite), per request: creating it,
// and updating it with one more message as the frontend does after every
// answer (it sends the whole chat each time).
//
//	go test ./api -run '^$' -bench ChatSave -benchtime 20x
func BenchmarkChatSave(b *testing.B) {
	for _, mb := range []int{1, 8} {
		chat, next := benchChat(mb << 20)
		bundle := newSaveBundleLimit(b, false, 16<<20)
		create := mustMarshal(b, map[string]any{"chat": chat})
		var id string
		b.Run(fmt.Sprintf("create/%dMB", mb), func(b *testing.B) {
			before := cpu()
			for b.Loop() {
				var c chatResp
				require.Equal(b, http.StatusOK, bundle.do("POST", chatsPath+"new", create, &c))
				id = c.ID
			}
			b.ReportMetric(float64((cpu()-before).Milliseconds())/float64(b.N), "cpu-ms/op")
		})
		msgs := chat["history"].(map[string]any)["messages"].(map[string]any)
		msgs[next["id"].(string)] = next
		chat["messages"] = append(chat["messages"].([]any), next)
		update := mustMarshal(b, map[string]any{"chat": chat})
		b.Run(fmt.Sprintf("update/%dMB", mb), func(b *testing.B) {
			before := cpu()
			for b.Loop() {
				require.Equal(b, http.StatusOK, bundle.do("POST", chatsPath+id, update, nil))
			}
			b.ReportMetric(float64((cpu()-before).Milliseconds())/float64(b.N), "cpu-ms/op")
		})
	}
}

// benchChat is a conversation of about size bytes as the frontend sends
// it (history.messages and the messages list both hold every message),
// and one more message to add to it.
func benchChat(size int) (map[string]any, map[string]any) {
	text := strings.Repeat("Quire keeps the notes — « ça marche » 😀. ", 50) // ~2 KB
	msgs := map[string]any{}
	var list []any
	parent := any(nil)
	n := size / (2 * (len(text) + 200))
	msg := func(i int) map[string]any {
		id := fmt.Sprintf("m-%06d", i)
		m := map[string]any{"id": id, "parentId": parent, "childrenIds": []string{}, "role": []string{"user", "assistant"}[i%2],
			"content": text, "timestamp": 1733500000 + i, "done": true, "models": []string{"gpt-4o"}}
		parent = id
		return m
	}
	for i := range n {
		m := msg(i)
		if i+1 < n {
			m["childrenIds"] = []string{fmt.Sprintf("m-%06d", i+1)}
		}
		msgs[m["id"].(string)] = m
		list = append(list, m)
	}
	next := msg(n)
	return map[string]any{"title": "A long conversation", "models": []string{"gpt-4o"},
		"history": map[string]any{"messages": msgs, "currentId": parent}, "messages": list}, next
}

func mustMarshal(tb testing.TB, v any) []byte {
	raw, err := json.Marshal(v)
	require.NoError(tb, err)
	return raw
}
