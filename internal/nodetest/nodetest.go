// Package nodetest runs Node test scripts (real socket.io-client and Yjs)
// from Go tests: one to completion for its JSON result, or one the test
// drives a line at a time. A script's stderr goes to the test log, and a
// script that is still running when the test ends is stopped, killed if it
// must be, so it never outlives or hangs its test.
package nodetest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/quire/quire/internal/syncbuf"
)

// exitGrace is how long a script whose test passed may take to exit once
// its stdin is closed before it is killed (a failed test's is killed at
// once), and how long a script that stopped talking is given to exit
// before its stderr is reported.
var exitGrace = 10 * time.Second

// maxLine bounds one line a script prints.
const maxLine = 16 << 20

// Run runs the script at path (relative to the test's package directory)
// with args to completion and decodes what it prints, one JSON value, into
// out. A non-zero exit or output that is not JSON fails the test.
func Run(t testing.TB, out any, path string, args ...string) {
	t.Helper()
	name := filepath.Base(path)
	cmd := exec.Command("node", append([]string{path}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		t.Fatalf("node %s: %v\nstdout: %s\nstderr: %s", name, err, stdout.String(), stderr.String())
	}
	if stderr.Len() > 0 { // e.g. "# stalled connect retried" (realtime/testdata/lib.mjs)
		t.Logf("node %s stderr: %s", name, stderr.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		t.Fatalf("node %s: bad output %q: %v", name, stdout.String(), err)
	}
}

// Script is a running script: the test writes lines to its stdin (Send)
// and reads the JSON lines it prints (Next).
type Script struct {
	t      testing.TB
	name   string
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *os.File
	lines  *bufio.Scanner
	stderr syncbuf.Buffer
	exited chan struct{} // closed once the process is gone and stderr is complete
	err    error         // cmd.Wait's, once exited is closed
}

// Start starts the script at path (relative to the test's package
// directory) with args. When the test ends its stdin is closed, and the
// process is waited for (exitGrace at most, not at all if the test failed)
// and then killed; what it wrote to stderr is logged.
func Start(t testing.TB, path string, args ...string) *Script {
	t.Helper()
	s := &Script{t: t, name: filepath.Base(path), exited: make(chan struct{})}
	s.cmd = exec.Command("node", append([]string{path}, args...)...)
	in, err := s.cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	// Our own pipe for stdout, not StdoutPipe: Wait closes that one as soon
	// as the process exits, losing lines not yet read, and Wait must run
	// early so that a script that ends is seen to end.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	s.in, s.out = in, r
	s.cmd.Stdout, s.cmd.Stderr = w, &s.stderr
	s.cmd.WaitDelay = time.Second // after exit, for stderr to drain
	err = s.cmd.Start()
	w.Close()
	if err != nil {
		r.Close()
		t.Fatalf("node %s: %v", s.name, err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(s.stop)
	s.lines = bufio.NewScanner(r)
	s.lines.Buffer(nil, maxLine)
	return s
}

// stop closes stdin, waits for the process to exit and kills it if it does
// not in time, then logs its stderr.
func (s *Script) stop() {
	s.in.Close()
	grace := exitGrace
	if s.t.Failed() {
		grace = 0
	}
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-s.exited:
	case <-timer.C:
		_ = s.cmd.Process.Kill()
		<-s.exited
		if !s.t.Failed() {
			s.t.Logf("node %s: still running %v after its stdin closed: killed", s.name, grace)
		}
	}
	s.out.Close()
	if e := s.stderr.String(); e != "" {
		s.t.Logf("node %s stderr:\n%s", s.name, e)
	}
}

// Send writes line and a newline to the script's stdin.
func (s *Script) Send(line string) {
	s.t.Helper()
	if _, err := io.WriteString(s.in, line+"\n"); err != nil {
		s.t.Fatalf("node %s: writing %q: %v%s", s.name, line, err, s.ended())
	}
}

// Next decodes the next line the script prints into out. The script
// ending first, or a line that is not JSON, fails the test.
func (s *Script) Next(out any) {
	s.t.Helper()
	if !s.lines.Scan() {
		err := s.lines.Err()
		if err == nil {
			err = io.EOF
		}
		s.t.Fatalf("node %s: reading its output: %v%s", s.name, err, s.ended())
	}
	if err := json.Unmarshal(s.lines.Bytes(), out); err != nil {
		s.t.Fatalf("node %s: bad line %q: %v\nstderr so far:\n%s", s.name, s.lines.Text(), err, s.stderr.String())
	}
}

// Step sends signal (unless it is "") and returns the next line, a JSON
// object.
func (s *Script) Step(signal string) map[string]any {
	s.t.Helper()
	if signal != "" {
		s.Send(signal)
	}
	var m map[string]any
	s.Next(&m)
	return m
}

// Ready reads the script's first line and fails the test unless it is
// {"ready":true}.
func (s *Script) Ready() {
	s.t.Helper()
	var ready struct{ Ready bool }
	if s.Next(&ready); !ready.Ready {
		s.t.Fatalf("node %s: not ready: %q", s.name, s.lines.Text())
	}
}

// Stderr is what the script has written to stderr so far.
func (s *Script) Stderr() string { return s.stderr.String() }

// ended describes why the script stopped talking: its exit status and
// whole stderr once it has exited (exitGrace at most), else that it is
// still running and its stderr so far.
func (s *Script) ended() string {
	timer := time.NewTimer(exitGrace)
	defer timer.Stop()
	select {
	case <-s.exited:
		status := "exit status 0"
		if s.err != nil {
			status = s.err.Error()
		}
		return "\n" + status + "; stderr:\n" + s.stderr.String()
	case <-timer.C:
		return "\nstill running; stderr so far:\n" + s.stderr.String()
	}
}
