package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// startPprof serves the Go profiles on their own listener (--pprof-addr):
// they expose internals and cost CPU, so never on the public address.
func (s *Server) startPprof(ctx context.Context) error {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", s.cfg.PprofAddr)
	if err != nil {
		return fmt.Errorf("server: listen on --pprof-addr %s: %w", s.cfg.PprofAddr, err)
	}
	s.pprof = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := s.pprof.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("pprof serve failed", "err", err)
		}
	}()
	s.log.InfoContext(ctx, "serving profiles", "addr", ln.Addr().String())
	return nil
}
