package redistest

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Private is a redis-server of the test's own on a free loopback port
// (never the machine's shared one), which the test may Pause and Resume
// to make a Redis that hangs: its connections stay open and answer
// nothing, as when it is stopped or cut off without a reset.
type Private struct {
	URL string
	cmd *exec.Cmd
}

// StartPrivate starts redis-server (skipping the test when it is not
// installed or QUIRE_TEST_REDIS_URL is unset) and stops it when t ends.
func StartPrivate(t testing.TB) *Private {
	t.Helper()
	URL(t) // the Redis tests run only where Redis is meant to be
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not installed")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	cmd := exec.Command(bin, "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &Private{URL: fmt.Sprintf("redis://127.0.0.1:%d/0", port), cmd: cmd}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGCONT)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	c := p.Client(t)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		err := c.Ping(context.Background()).Err()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("private redis-server on port %d: %v", port, err)
		}
	}
	return p
}

// Client is a new client of the private server, closed when t ends.
func (p *Private) Client(t testing.TB) *redis.Client {
	opt, err := redis.ParseURL(p.URL)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Pause stops the server (SIGSTOP): it keeps its connections and answers
// nothing until Resume.
func (p *Private) Pause(t testing.TB) {
	if err := p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
}

// Resume continues a paused server (SIGCONT).
func (p *Private) Resume(t testing.TB) {
	if err := p.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
}
