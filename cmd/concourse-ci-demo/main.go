// Command concourse-ci-demo is `make demo`: several units of the real,
// built charm on this machine. Every hook is a `dispatch` process
// (concourse-ci-machine) with Juju's environment, its hook tools answer
// from an in-memory Juju over a unix socket, the units' services run on a
// real systemd private to the demo, and the Concourse release (a fake
// `concourse` that lands, retires and serves like the real one) comes from
// a loopback server. It deploys, upgrades through the `upgrade` action,
// prints a timeline and a summary, and leaves nothing running.
//
// The binary is also the demo's hook tools (run under a tool's name) and
// the fake Concourse inside the releases (FAKE_CONCOURSE=1).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/cmd/internal/localcluster"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/fakeconcourse"
	"github.com/concourse-ci-machine/concourse-ci-machine/relation/jujutest"
	"github.com/concourse-ci-machine/concourse-ci-machine/relation/jujutest/jujuc"
	"github.com/concourse-ci-machine/concourse-ci-machine/services/systemdtest"
	"golang.org/x/sys/unix"
)

func main() {
	fakeconcourse.RunIfRequested()
	if slices.Contains(jujutest.Tools(), filepath.Base(os.Args[0])) {
		os.Exit(jujuc.Main(os.Args, os.Stdin, os.Stdout, os.Stderr, os.Getenv))
	}
	// The demo dies with whoever started it (a killed shell, a test), and
	// cleans up on the way out.
	_ = unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(syscall.SIGTERM), 0, 0, 0)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGPIPE)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

type options struct {
	units      int
	mode       string
	from, to   string
	json       bool
	keep       bool
	dispatch   string
	drainAfter time.Duration
	timeout    time.Duration
	// concourse is a real concourse binary, postgres the database its web
	// uses (postgres://user:password@host:port/db).
	concourse, postgres string
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o options
	flags := flag.NewFlagSet("concourse-ci-demo", flag.ContinueOnError)
	flags.SetOutput(io.Discard)
	flags.IntVar(&o.units, "units", 3, "how many units")
	flags.StringVar(&o.mode, "mode", "auto", "the charm's mode: auto, web, worker or all")
	flags.StringVar(&o.from, "from", "7.14.3", "the release deployed first")
	flags.StringVar(&o.to, "to", "7.14.4", "the release the upgrade action moves to")
	flags.BoolVar(&o.json, "json", false, "print the summary as one JSON object on stdout (progress goes to stderr)")
	flags.BoolVar(&o.keep, "keep", false, "keep a copy of the shared volume for `concourse-ci-machine inspect`")
	flags.StringVar(&o.dispatch, "dispatch", "", "the built concourse-ci-machine (default: next to this program)")
	flags.DurationVar(&o.drainAfter, "drain-after", 2*time.Second, "how long a fake worker takes to land")
	flags.DurationVar(&o.timeout, "timeout", 5*time.Minute, "how long deploy and upgrade may each take")
	flags.StringVar(&o.concourse, "concourse", "", "a real concourse binary: deploy its version (no upgrade) and check web's API (/api/v1/info, the workers registered); needs --postgres")
	flags.StringVar(&o.postgres, "postgres", "", "with --concourse: the PostgreSQL web uses, postgres://user:password@host:port/database")
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			flags.SetOutput(stdout)
			fmt.Fprintln(stdout, "Usage: concourse-ci-demo [flags]")
			flags.PrintDefaults()
			return 0
		}
		fmt.Fprintf(stderr, "concourse-ci-demo: %v\nRun 'concourse-ci-demo -h' for the flags.\n", err)
		return 2
	}
	if o.units < 1 || o.units > 20 || flags.NArg() > 0 {
		fmt.Fprintf(stderr, "concourse-ci-demo: --units takes 1 to 20 and no arguments follow the flags\n")
		return 2
	}
	if (o.concourse == "") != (o.postgres == "") {
		fmt.Fprintf(stderr, "concourse-ci-demo: --concourse and --postgres go together: a real Concourse's web needs a database\n")
		return 2
	}
	if o.postgres != "" {
		if _, err := postgresData(o.postgres); err != nil {
			fmt.Fprintf(stderr, "concourse-ci-demo: --postgres: %v\n", err)
			return 2
		}
		if o.mode != "auto" && o.mode != "all" {
			fmt.Fprintf(stderr, "concourse-ci-demo: --concourse runs mode auto or all (web and workers in one application)\n")
			return 2
		}
	}
	progress := stdout
	if o.json {
		progress = stderr
	}
	summary, err := demo(ctx, o, progress)
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "concourse-ci-demo: stopped (interrupted, or its output was closed); everything it started is gone")
		return 1
	}
	if err != nil {
		fmt.Fprintf(stderr, "concourse-ci-demo: %v\n", err)
		return 1
	}
	if o.json {
		if err := json.NewEncoder(stdout).Encode(summary); err != nil {
			return 1
		}
		return 0
	}
	printSummary(stdout, summary)
	return 0
}

func demo(ctx context.Context, o options, progress io.Writer) (localcluster.Summary, error) {
	var summary localcluster.Summary
	self, err := os.Executable()
	if err != nil {
		return summary, err
	}
	if o.dispatch == "" {
		o.dispatch = filepath.Join(filepath.Dir(self), "concourse-ci-machine")
	}
	if _, err := os.Stat(o.dispatch); err != nil {
		return summary, fmt.Errorf("the charm's binary: %w (build it: make build, or pass --dispatch)", err)
	}
	out := &lineWriter{w: progress}
	out.printf("Starting a private systemd (PID 1 of namespaces of its own)...")
	inst, err := systemdtest.Start(ctx)
	if err != nil {
		return summary, fmt.Errorf("start a private systemd (the demo needs root and the systemd package): %w", err)
	}
	defer func() {
		if err := inst.Stop(); err != nil {
			out.printf("stopping the private systemd: %v", err)
		}
	}()
	// The units run these, so they live where units see them.
	multi, err := inst.CopyExecutable(self)
	if err != nil {
		return summary, err
	}
	dispatch, err := inst.CopyExecutable(o.dispatch)
	if err != nil {
		return summary, err
	}
	root := filepath.Join(inst.ScratchDir, "demo")
	opts := localcluster.Options{
		Units: o.units, Config: map[string]any{"mode": o.mode}, Releases: []string{o.from, o.to},
		Dispatch: dispatch, Multi: multi, Root: root, Systemd: inst, DrainAfter: o.drainAfter,
		Timeline: func(e localcluster.Event) {
			who := e.Unit
			if who == "" {
				who = "(leader's record)"
			}
			out.printf("%7.2fs  %-18s %s", e.At.Seconds(), who, e.What)
		},
	}
	if o.concourse != "" {
		if err := realConcourse(ctx, inst, o, &opts); err != nil {
			return summary, err
		}
		o.from = opts.Releases[0]
	}
	c, err := localcluster.Start(ctx, opts)
	if err != nil {
		return summary, err
	}
	defer c.Close()
	out.printf("== juju deploy concourse-ci-machine -n %d --config mode=%s --config version=%s (one shared volume)", o.units, o.mode, o.from)
	if err := c.Deploy(ctx, o.units, o.timeout); err != nil {
		return summary, err
	}
	if o.concourse != "" {
		return checkRealConcourse(ctx, c, o, out)
	}
	out.printf("== juju run concourse/leader upgrade version=%s", o.to)
	began := time.Now()
	if _, err := c.Upgrade(ctx, o.to, o.timeout); err != nil {
		return summary, err
	}
	summary, err = c.Summarize(time.Since(began))
	if err != nil {
		return summary, err
	}
	if o.keep {
		kept, err := keepVolume(filepath.Join(root, "volume"))
		if err != nil {
			return summary, err
		}
		out.printf("== the shared volume is kept at %s: concourse-ci-machine inspect %s", kept, kept)
	}
	return summary, ctx.Err()
}

// keepVolume copies the shared volume (the private systemd's directory is
// removed when it stops) to a new temporary directory.
func keepVolume(src string) (string, error) {
	dst, err := os.MkdirTemp("", "concourse-ci-demo-volume-")
	if err != nil {
		return "", err
	}
	return dst, os.CopyFS(dst, os.DirFS(src))
}

func printSummary(w io.Writer, s localcluster.Summary) {
	fmt.Fprintf(w, "\n== Summary: %d units of %s in mode %s, record %s on %s\n", s.Units, s.App, s.Mode, s.Phase, s.Version)
	for _, v := range slices.Sorted(maps.Keys(s.DownloadsPerVersion)) {
		fmt.Fprintf(w, "  downloads of %s: %d\n", v, s.DownloadsPerVersion[v])
	}
	fmt.Fprintf(w, "  volume: %d bytes for releases %s, %.2f times one release (%d bytes)\n", s.VolumeBytes, strings.Join(s.KeptReleases, ", "), s.VolumeRatio, s.ReleaseBytes)
	for _, u := range slices.Sorted(maps.Keys(s.InstallSeconds)) {
		down, ok := s.WorkerDowntime[u]
		if !ok {
			fmt.Fprintf(w, "  %s: active %.1fs after its first hook; runs no worker\n", u, s.InstallSeconds[u])
			continue
		}
		fmt.Fprintf(w, "  %s: active %.1fs after its first hook; its worker was down %.1fs in the upgrade\n", u, s.InstallSeconds[u], down)
	}
	fmt.Fprintf(w, "  upgrade: %.1fs from the action to every unit on %s, %d hooks in all\n", s.UpgradeSeconds, s.Version, s.HooksRun)
}

// lineWriter prints whole lines from several goroutines.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineWriter) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, format+"\n", args...)
}

// realConcourse points opts at a real concourse binary: its version is the
// one release, run from where the units see it, and web gets the given
// PostgreSQL.
func realConcourse(ctx context.Context, inst *systemdtest.Instance, o options, opts *localcluster.Options) error {
	out, err := exec.CommandContext(ctx, o.concourse, "--version").Output()
	if err != nil {
		return fmt.Errorf("--concourse %s: run with --version: %w", o.concourse, err)
	}
	bin, err := inst.CopyExecutable(o.concourse)
	if err != nil {
		return err
	}
	pg, err := postgresData(o.postgres)
	if err != nil {
		return err
	}
	opts.Releases, opts.Concourse, opts.Postgres = []string{strings.TrimSpace(string(out))}, bin, pg
	return nil
}

// checkRealConcourse asks web's API for its version and waits for every
// worker to register.
func checkRealConcourse(ctx context.Context, c *localcluster.Cluster, o options, out *lineWriter) (localcluster.Summary, error) {
	want := o.units - 1 // mode auto: the leader runs web, the others workers
	if o.mode == "all" {
		want = o.units
	}
	out.printf("== web's API: /api/v1/info and %d workers registered", want)
	info, workers, err := c.CheckConcourse(ctx, want, o.timeout)
	if err != nil {
		return localcluster.Summary{}, err
	}
	summary, err := c.Summarize(0)
	if err != nil {
		return summary, err
	}
	summary.API = &localcluster.APICheck{Version: info.Version, Workers: map[string]string{}}
	for _, w := range workers {
		summary.API.Workers[w.Name] = w.State
	}
	return summary, ctx.Err()
}

// postgresData is what a postgresql_client provider would answer for a
// postgres://user:password@host:port/database URL.
func postgresData(raw string) (map[string]string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	password, _ := u.User.Password()
	database := strings.TrimPrefix(u.Path, "/")
	if (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Port() == "" || u.User.Username() == "" || database == "" {
		return nil, fmt.Errorf("%q is not postgres://user:password@host:port/database", raw)
	}
	return map[string]string{"endpoints": u.Host, "username": u.User.Username(), "password": password, "database": database}, nil
}
