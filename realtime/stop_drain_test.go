package realtime_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quire/quire/realtime"
)

// heldDocs is the real document manager with its first Apply held from
// entered until release: an update still being stored when Stop begins.
type heldDocs struct {
	realtime.Docs
	entered, release chan struct{}
	first            chan struct{} // closed by the first Apply
}

func (h *heldDocs) Apply(ctx context.Context, docID, sid string, update []byte) error {
	select {
	case <-h.first:
	default:
		close(h.first)
		close(h.entered)
		<-h.release
	}
	return h.Docs.Apply(ctx, docID, sid, update)
}

func intsJSON(b []byte) string {
	s := make([]string, len(b))
	for i, v := range b {
		s[i] = strconv.Itoa(int(v))
	}
	return "[" + strings.Join(s, ",") + "]"
}

// An update accepted before Stop and stored during it is acknowledged to
// its author and relayed to the room before the sockets close (protocol.md
// §9.1: stop accepting, make every accepted update durable, close
// sockets); an update sent after Stop began is not accepted: neither
// stored nor acknowledged. The faults bench's F2 (SIGTERM mid-storm) found
// updates that were stored but never acknowledged nor relayed.
func TestStopAcknowledgesAcceptedUpdates(t *testing.T) {
	t.Parallel()
	h := &heldDocs{entered: make(chan struct{}), release: make(chan struct{}), first: make(chan struct{})}
	b := setup(t, func(c *realtime.Config) { h.Docs, c.Docs = c.Docs, h })
	doc := "note:" + b.note.ID

	w := dialRaw(t, b.url, b.tokens["writer"])
	r := dialRaw(t, b.url, b.tokens["reader"])
	for _, s := range []*rawSocket{w, r} {
		s.text(`421["ydoc:document:join",{"document_id":"` + doc + `"}]`)
		s.next("431[")
	}
	w.text(`422["ydoc:document:update",{"document_id":"` + doc + `","update":` + intsJSON(textUpdate(7, "accepted")) + `}]`)
	<-h.entered

	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		stopped <- b.srv.Stop(ctx)
	}()
	waitFor(t, "Stop to refuse new requests", 10*time.Second, func() bool {
		resp, err := http.Get(b.url + "/ws/socket.io/?EIO=4&transport=polling")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusServiceUnavailable
	})
	w.text(`423["ydoc:document:update",{"document_id":"` + doc + `","update":` + intsJSON(textUpdate(8, "late")) + `}]`)
	close(h.release)

	if ack := w.next("432"); !strings.Contains(ack, `"ok":true`) {
		t.Errorf("ack of the accepted update %s, want ok", ack)
	}
	if relay := r.next(`42["ydoc:document:update"`); !strings.Contains(relay, strings.Trim(intsJSON([]byte("accepted")), "[]")) {
		t.Errorf("relay %s, want the accepted update", relay)
	}
	for {
		_, msg, err := w.read()
		if err != nil {
			break // the server closed the socket
		}
		if strings.HasPrefix(string(msg), "433") {
			t.Errorf("the update sent after Stop began was answered: %s", msg)
		}
	}
	if err := <-stopped; err != nil {
		t.Fatalf("stop: %v", err)
	}
	st, err := b.docs.State(context.Background(), doc)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(st.Update); !strings.Contains(got, "accepted") || strings.Contains(got, "late") {
		t.Errorf("stored state %q: want the accepted update and not the late one", got)
	}
}
