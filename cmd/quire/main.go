// Command quire is the Quire server: collaborative notes over Open WebUI's
// protocol, stored in embedded SQLite or PostgreSQL.
//
//	quire [serve] [flags]       run the server (the default command)
//	quire migrate [flags]       bring the database schema up to date
//	quire token --email E       print a signed service token for an account
//	quire version               print the version
//	quire help                  print the commands and the serve flags
//
// Every flag has an environment variable (QUIRE_ADDR, …); a flag beats it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/quire/quire/auth"
	"github.com/quire/quire/server"
	"github.com/quire/quire/storage"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = ""

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// run is main without the process: it returns the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	} else if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
		cmd = "help"
	}
	var err error
	switch cmd {
	case "serve":
		err = serve(ctx, args, getenv, stderr)
	case "migrate":
		err = migrate(ctx, args, getenv, stdout, stderr)
	case "token":
		err = token(ctx, args, getenv, stdout, stderr)
	case "version":
		fmt.Fprintf(stdout, "quire %s %s\n", buildVersion(), runtime.Version())
	case "help", "-h", "-help", "--help":
		usage(stdout)
		return 0
	default:
		fmt.Fprintf(stderr, "quire: unknown command %q\n\n", cmd)
		usage(stderr)
		return 2
	}
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	case err != nil:
		fmt.Fprintf(stderr, "quire %s: %v\n", cmd, err)
		return 1
	}
	return 0
}

var errUsage = errors.New("usage")

// usage lists the commands and then the serve flags, so that one
// "quire --help" answers how to run it.
func usage(w io.Writer) {
	fmt.Fprint(w, `Usage:
  quire [serve] [flags]     run the server (default)
  quire migrate [flags]     migrate the database and exit
  quire token --email E     print a signed service token for the account E
  quire version             print the version
  quire help                print this help

Flags of serve (a flag beats its environment variable):
`)
	s := newSettings("serve", w, true)
	s.fs.SetOutput(w)
	s.fs.PrintDefaults()
	fmt.Fprint(w, `
migrate and token take --data-dir, --database-url, --secret and --log-level;
"quire token --help" shows its own.
`)
}

// settings are the flags shared by every command that touches data.
type settings struct {
	fs  *flag.FlagSet
	cfg server.Config
	// envs maps a flag name to its environment variables, first wins.
	envs map[string][]string
	// enableSignup is --enable-signup, stored inverted in cfg.
	enableSignup bool
}

func newSettings(name string, stderr io.Writer, serveFlags bool) *settings {
	s := &settings{fs: flag.NewFlagSet("quire "+name, flag.ContinueOnError), envs: map[string][]string{}, enableSignup: true}
	s.fs.SetOutput(stderr)
	str := func(p *string, flagName, def, env, help string, more ...string) {
		s.fs.StringVar(p, flagName, def, fmt.Sprintf("%s (env %s)", help, strings.Join(append([]string{env}, more...), ", ")))
		s.envs[flagName] = append([]string{env}, more...)
	}
	num := func(p *int, flagName string, def int, env, help string) {
		s.fs.IntVar(p, flagName, def, fmt.Sprintf("%s (env %s)", help, env))
		s.envs[flagName] = []string{env}
	}
	c := &s.cfg
	str(&c.DataDir, "data-dir", server.DataDirDefault, "QUIRE_DATA_DIR", "directory of the SQLite database and the generated secret")
	str(&c.DatabaseURL, "database-url", "", "QUIRE_DATABASE_URL", "PostgreSQL URL postgres://…; empty: SQLite <data-dir>/quire.db")
	str(&c.Secret, "secret", "", "QUIRE_SECRET", "token signing key; empty: generated once into <data-dir>/secret", "WEBUI_SECRET_KEY")
	str(&c.LogLevel, "log-level", server.LogLevelDefault, "QUIRE_LOG_LEVEL", "debug, info, warn or error")
	if serveFlags {
		str(&c.Addr, "addr", server.AddrDefault, "QUIRE_ADDR", "listen address host:port")
		str(&c.PprofAddr, "pprof-addr", "", "QUIRE_PPROF_ADDR", "serve Go profiles (/debug/pprof/) on this separate host:port; empty: off")
		str(&c.RedisURL, "redis-url", "", "QUIRE_REDIS_URL", "Redis URL redis://… shared by several instances (needs --database-url and --secret); empty: one instance")
		str(&c.RedisPrefix, "redis-prefix", server.RedisPrefixDefault, "QUIRE_REDIS_PREFIX", "start of every Redis key and channel; one per deployment sharing a Redis")
		num(&c.MaxMessageBytes, "max-message-bytes", server.MaxMessageBytesDefault, "QUIRE_MAX_MESSAGE_BYTES", "largest Socket.IO message in bytes")
		num(&c.MaxDocumentBytes, "max-document-bytes", server.MaxDocumentBytesDefault, "QUIRE_MAX_DOCUMENT_BYTES", "largest encoded document state in bytes")
		str(&c.MetricsAddr, "metrics-addr", "", "QUIRE_METRICS_ADDR", "serve /metrics on this separate host:port (and not on --addr); empty: on --addr")
		str(&c.PublicURL, "public-url", "", "QUIRE_PUBLIC_URL", "URL users open, e.g. https://notes.example.com; when set, requests for any other Host are refused", "WEBUI_URL")
		num(&c.MaxConns, "max-conns", 0, "QUIRE_MAX_CONNS", "open connections over which new sockets get 503, keeping file descriptors for /healthz and the database; 0: the file limit (RLIMIT_NOFILE) minus 256; -1: no cap")
		s.fs.DurationVar(&c.CommitLinger, "commit-linger", 0, "wait this long (e.g. 5ms, at most 1s) for more document updates to share a commit: fewer fsyncs, slower acks; 0: commit at once (env QUIRE_COMMIT_LINGER)")
		s.envs["commit-linger"] = []string{"QUIRE_COMMIT_LINGER"}
		dur := func(p *time.Duration, flagName, env, help string) {
			s.fs.DurationVar(p, flagName, 0, fmt.Sprintf("%s (env %s)", help, env))
			s.envs[flagName] = []string{env}
		}
		dur(&c.DocIdleTimeout, "doc-idle-timeout", "QUIRE_DOC_IDLE_TIMEOUT", "unload a document this long after its last client left; 0: 30s")
		dur(&c.DocInactiveTimeout, "doc-inactive-timeout", "QUIRE_DOC_INACTIVE_TIMEOUT", "unload a document with clients after this long without a message from them; 0: 10m")
		num(&c.DocCompactRows, "doc-compact-rows", 0, "QUIRE_DOC_COMPACT_ROWS", "compact a document's stored log into a snapshot once it has more rows; 0: 256")
		num(&c.MaxConnsPerIP, "max-conns-per-ip", server.MaxConnsPerIPDefault, "QUIRE_MAX_CONNS_PER_IP", "open connections allowed per client address, loopback exempt; -1: no cap")
		s.fs.BoolVar(&s.enableSignup, "enable-signup", true, "allow sign-ups; the first account may always sign up (env ENABLE_SIGNUP, QUIRE_ENABLE_SIGNUP)")
		s.envs["enable-signup"] = []string{"ENABLE_SIGNUP", "QUIRE_ENABLE_SIGNUP"}
		str(&c.OpenAIBaseURLs, "openai-base-url", "", "QUIRE_OPENAI_BASE_URL", "OpenAI-compatible upstream base URLs for chat, ';'-separated; empty: no models", "OPENAI_API_BASE_URLS", "OPENAI_API_BASE_URL")
		str(&c.OpenAIAPIKeys, "openai-api-key", "", "QUIRE_OPENAI_API_KEY", "API keys of those upstreams, ';'-separated, by position", "OPENAI_API_KEYS", "OPENAI_API_KEY")
		dur(&c.ChatTimeout, "chat-timeout", "QUIRE_CHAT_TIMEOUT", "a chat completion asked without streaming must be answered whole within this long (streams are bounded by their pauses instead); 0: 5m")
		str(&c.WebUIDir, "webui-dir", "", "QUIRE_WEBUI_DIR", "serve this frontend build (e.g. the stock Open WebUI one) at / instead of the built-in app; empty: the built-in app")
		str(&c.DefaultUserRole, "default-user-role", server.DefaultUserRoleDefault, "DEFAULT_USER_ROLE", "role of new accounts but the first (always admin): pending, user or admin", "QUIRE_DEFAULT_USER_ROLE")
	}
	return s
}

// parse parses args, then fills every flag not given from its environment
// variable: a flag beats the variable, the variable beats the default.
func (s *settings) parse(args []string, getenv func(string) string) error {
	if err := s.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if s.fs.NArg() > 0 {
		fmt.Fprintf(s.fs.Output(), "unexpected arguments: %q\n", s.fs.Args())
		return errUsage
	}
	set := map[string]bool{}
	s.fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for name, envs := range s.envs {
		if set[name] {
			continue
		}
		for _, env := range envs {
			if v := getenv(env); v != "" {
				if err := s.fs.Set(name, v); err != nil {
					return fmt.Errorf("%s=%q: %w", env, v, err)
				}
				break
			}
		}
	}
	s.cfg.SignupDisabled = !s.enableSignup
	s.cfg.Version = buildVersion()
	s.cfg = s.cfg.WithDefaults()
	return s.cfg.Validate()
}

func (s *settings) logger(w io.Writer) *slog.Logger {
	level, _ := server.ParseLogLevel(s.cfg.LogLevel) // validated in parse
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

func serve(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	s := newSettings("serve", stderr, true)
	if err := s.parse(args, getenv); err != nil {
		return err
	}
	log := s.logger(stderr)
	srv, err := server.New(s.cfg, log)
	if err != nil {
		return err
	}
	// Start-up leaves ~20 MB of garbage (goose's migration parser alone
	// pools 16 MB of scanner buffers); the runtime would hand it back to
	// the OS only slowly, so the server's resident memory would start
	// there. One collection now, before any client, returns it.
	debug.FreeOSMemory()
	if err := srv.Start(ctx); err != nil {
		_ = srv.Stop(context.Background())
		return err
	}
	<-ctx.Done()
	signal.Reset(os.Interrupt, syscall.SIGTERM) // a second signal kills at once
	log.Info("signal received, shutting down")
	stopCtx, cancel := context.WithTimeout(context.Background(), server.ShutdownTimeoutDefault)
	defer cancel()
	return srv.Stop(stopCtx)
}

// openStore opens (and so migrates) the configured store, making the data
// directory first; it logs to w.
func (s *settings) openStore(ctx context.Context, w io.Writer) (storage.Store, error) {
	if err := server.PrepareDataDir(s.cfg); err != nil {
		return nil, err
	}
	return storage.Open(ctx, s.cfg.DatabaseURL, s.cfg.DataDir, s.logger(w))
}

func migrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	s := newSettings("migrate", stderr, false)
	if err := s.parse(args, getenv); err != nil {
		return err
	}
	// Opening a store migrates it.
	st, err := s.openStore(ctx, stderr)
	if err != nil {
		return err
	}
	if err := st.Close(); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "database is up to date")
	return nil
}

func token(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	s := newSettings("token", stderr, false)
	var email string
	var ttl time.Duration
	s.fs.StringVar(&email, "email", "", "email of the account (required)")
	s.fs.DurationVar(&ttl, "ttl", auth.TokenTTLDefault, "token lifetime")
	if err := s.parse(args, getenv); err != nil {
		return err
	}
	if email == "" {
		fmt.Fprintln(stderr, "--email is required")
		return errUsage
	}
	secret, err := server.ResolveSecret(s.cfg)
	if err != nil {
		return err
	}
	st, err := s.openStore(ctx, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	u, err := st.GetUserByEmail(ctx, strings.ToLower(strings.TrimSpace(email)))
	if errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("no account with email %s", email)
	}
	if err != nil {
		return err
	}
	if u.Role != storage.RoleAdmin && u.Role != storage.RoleUser {
		return fmt.Errorf("account %s is %s; its tokens would be refused", email, u.Role)
	}
	a, err := auth.NewAuthenticator(auth.Config{Store: st, Secret: secret, TokenTTL: ttl})
	if err != nil {
		return err
	}
	// A service token: an operator made it, so it may also push events
	// (POST /api/v1/events/emit).
	tok, err := a.IssueService(ctx, u)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}
