package nodetest

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// script writes a Node script into a temporary directory.
func script(t *testing.T, src string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "script.mjs")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// echo answers each stdin line with a JSON line and exits when stdin ends.
const echo = `
import * as readline from 'node:readline';
process.stderr.write('# started\n');
console.log(JSON.stringify({ ready: true }));
for await (const line of readline.createInterface({ input: process.stdin })) {
  console.log(JSON.stringify({ got: line }));
}
`

func TestStep(t *testing.T) {
	s := Start(t, script(t, echo))
	s.Ready()
	if got := s.Step("hi")["got"]; got != "hi" {
		t.Fatalf("step: %v", got)
	}
	s.Send("a")
	s.Send("b")
	var m struct{ Got string }
	if s.Next(&m); m.Got != "a" {
		t.Fatalf("next: %q", m.Got)
	}
	if s.Next(&m); m.Got != "b" {
		t.Fatalf("next: %q", m.Got)
	}
	waitFor(t, func() bool { return s.Stderr() == "# started\n" })
}

// Every line a script prints before it exits is read, however soon it
// exits: the process is waited for while the test still reads.
func TestLinesOutliveTheScript(t *testing.T) {
	const n = 5000
	s := Start(t, script(t, fmt.Sprintf(
		`for (let i = 0; i < %d; i++) process.stdout.write(JSON.stringify({ i }) + '\n');`, n)))
	<-s.exited
	for i := range n {
		var m struct{ I int }
		if s.Next(&m); m.I != i {
			t.Fatalf("line %d: %d", i, m.I)
		}
	}
}

// A script that does not exit when its stdin closes is killed once its
// test ends, after exitGrace.
func TestStopKillsAScriptThatStays(t *testing.T) {
	defer func(g time.Duration) { exitGrace = g }(exitGrace)
	exitGrace = 100 * time.Millisecond
	path := script(t, `console.log('{"ready":true}'); setInterval(() => {}, 1000);`)
	var s *Script
	t.Run("script", func(t *testing.T) {
		s = Start(t, path)
		s.Ready()
	})
	select {
	case <-s.exited:
	default:
		t.Fatal("the script outlived its test")
	}
	if s.cmd.ProcessState.Success() {
		t.Fatalf("exited by itself: %v", s.cmd.ProcessState)
	}
}

// A script that ends before answering fails the test with its stderr.
func TestEndedScriptReportsStderr(t *testing.T) {
	s := Start(t, script(t, `process.stderr.write('boom\n'); process.exit(3);`))
	rec := &recorder{TB: t}
	s.t = rec
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Step("")
	}()
	<-done
	if !strings.Contains(rec.fatal, "exit status 3") || !strings.Contains(rec.fatal, "boom") {
		t.Fatalf("fatal message %q: want the exit status and stderr", rec.fatal)
	}
}

// recorder keeps a Fatalf's message instead of failing the test.
type recorder struct {
	testing.TB
	mu    sync.Mutex
	fatal string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) {
	r.mu.Lock()
	r.fatal = fmt.Sprintf(format, args...)
	r.mu.Unlock()
	runtime.Goexit()
}

func TestRun(t *testing.T) {
	var out struct{ N int }
	Run(t, &out, script(t, `console.log(JSON.stringify({ n: 7 }));`))
	if out.N != 7 {
		t.Fatalf("got %d", out.N)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
	}
}
