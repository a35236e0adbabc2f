package web

import (
	"bufio"
	"net"
	"net/http"
)

// Recorder remembers the status written through it. It passes Flush and
// Hijack through (Socket.IO needs both) and unwraps for
// http.ResponseController.
type Recorder struct {
	http.ResponseWriter
	status   int
	hijacked bool
}

// Status is the status sent: 200 if the handler wrote without one, 101
// after a hijack, 200 if nothing was written at all (net/http's default).
func (r *Recorder) Status() int {
	switch {
	case r.hijacked:
		return http.StatusSwitchingProtocols
	case r.status == 0:
		return http.StatusOK
	}
	return r.status
}

// WroteHeader reports whether the response has started.
func (r *Recorder) WroteHeader() bool { return r.status != 0 || r.hijacked }

func (r *Recorder) WriteHeader(code int) {
	if r.status == 0 && code >= 200 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *Recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *Recorder) Flush() {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	_ = http.NewResponseController(r.ResponseWriter).Flush()
}

func (r *Recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(r.ResponseWriter).Hijack()
	if err == nil {
		r.hijacked = true
	}
	return c, rw, err
}

func (r *Recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
