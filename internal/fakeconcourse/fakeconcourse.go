// Package fakeconcourse is a stand-in for the `concourse` binary in tests:
// a worker that drains the way a real Concourse 7.x worker was measured to
// (see services' WorkerUnit), `retire-worker`, and `--version`. It records
// what it receives in a file, so tests assert the signals a real systemd
// delivered.
//
// A test binary calls RunIfRequested first thing in TestMain and Install to
// put an executable `concourse` (a wrapper that re-executes the test
// binary) in a directory; the fake's switches are files in its Dir, so a
// test can flip them while the worker runs (take "web" away, get it stuck).
package fakeconcourse

import (
	"flag"

	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/concourse"

	"golang.org/x/sys/unix"
)

// Environment of the fake, set by the wrapper Install writes.
const (
	envRun        = "FAKE_CONCOURSE"             // "1": this process is the fake
	envDir        = "FAKE_CONCOURSE_DIR"         // its Dir
	envDrainAfter = "FAKE_CONCOURSE_DRAIN_AFTER" // how long landing/retiring takes
	envVersion    = "FAKE_CONCOURSE_VERSION"     // what --version prints
)

// Files in a fake's Dir.
const (
	// ReceivedFile collects one line per event: "started pid N",
	// "received SIGUSR1", "landed", "retired", "gateway gone",
	// "deleted registration", "retire-worker --name=...".
	ReceivedFile = "received"
	// GatewayGone, when present, is a web node that cannot be reached: a
	// draining worker exits 1 ("all SSH gateways disappeared while
	// draining"), and retire-worker fails.
	GatewayGone = "gateway-gone"
	// Stuck, when present, makes the worker ignore drain signals (until
	// SIGTERM or SIGKILL).
	Stuck = "stuck"
	// IgnoreTerm, when present, makes the worker ignore SIGTERM too (until
	// SIGKILL).
	IgnoreTerm = "ignore-sigterm"
	// MountVolumes, when present, makes the worker bind-mount a volume under
	// CONCOURSE_WORK_DIR on every start, as a real worker's volume driver
	// does (run it only where the mount dies with the test: under systemd's
	// private namespace).
	MountVolumes = "mount-volumes"
)

// GatewaysGoneMessage is what a real worker prints when it cannot reach
// the TSA while draining, before it exits 1.
const GatewaysGoneMessage = "all SSH gateways disappeared while draining"

// Options configure a fake.
type Options struct {
	// DrainAfter is how long the worker takes to land or retire after the
	// signal (a real idle worker: up to ~60 s to land, ~30 s to retire).
	DrainAfter time.Duration
	// Version is what --version prints; default "7.14.3".
	Version string
}

// Fake is one installed fake concourse.
type Fake struct {
	// Binary is the executable to run as `concourse`.
	Binary string
	// Dir holds the switches and ReceivedFile.
	Dir string
}

// Install writes an executable `concourse` into dir that runs self (a test
// binary whose TestMain calls RunIfRequested) as the fake. dir must be
// visible to whatever runs the fake (not under /tmp for PrivateTmp units).
func Install(dir, self string, opts Options) (Fake, error) {
	f := Fake{Binary: filepath.Join(dir, "concourse"), Dir: dir}
	if strings.ContainsAny(dir+self, "'\n") {
		return f, fmt.Errorf("fakeconcourse: paths with quotes or newlines are not supported: %q, %q", dir, self)
	}
	script := fmt.Sprintf("#!/bin/sh\nexport %s=1 %s='%s' %s='%s' %s='%s'\nexec '%s' \"$@\"\n",
		envRun, envDir, dir, envDrainAfter, opts.DrainAfter, envVersion, orDefault(opts.Version, "7.14.3"), self)
	if err := os.WriteFile(f.Binary, []byte(script), 0o755); err != nil {
		return f, fmt.Errorf("fakeconcourse: %w", err)
	}
	return f, nil
}

// Set turns a switch (GatewayGone, Stuck, IgnoreTerm) on or off.
func (f Fake) Set(name string, on bool) error {
	p := filepath.Join(f.Dir, name)
	if on {
		return os.WriteFile(p, nil, 0o644)
	}
	if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}

// Received returns the lines the fake recorded so far.
func (f Fake) Received() ([]string, error) {
	data, err := os.ReadFile(filepath.Join(f.Dir, ReceivedFile))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return strings.Split(strings.TrimSpace(string(data)), "\n"), nil
}

// RunIfRequested runs the fake and exits when this process was started as
// one (by the wrapper Install wrote); otherwise it returns.
func RunIfRequested() {
	if os.Getenv(envRun) != "1" {
		return
	}
	os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr))
}

// Main runs the fake with the environment the wrapper set.
func Main(args []string, stdout, stderr io.Writer) int {
	f := fake{dir: os.Getenv(envDir), stdout: stdout, stderr: stderr}
	f.drainAfter, _ = time.ParseDuration(os.Getenv(envDrainAfter))
	if f.dir == "" {
		fmt.Fprintln(stderr, "fakeconcourse: "+envDir+" is not set")
		return 2
	}
	switch {
	case len(args) == 1 && args[0] == "--version":
		fmt.Fprintln(stdout, os.Getenv(envVersion))
		return 0
	case len(args) >= 1 && (args[0] == "worker" || args[0] == "web"):
		role := concourse.Role(args[0])
		if len(args) > 1 {
			fmt.Fprintf(stderr, "fakeconcourse: concourse %s takes its settings from CONCOURSE_* variables, not %q\n", role, args[1:])
			return 2
		}
		if err := concourse.CheckEnv(role, concourseEnv(os.Environ())); err != nil {
			// As the real binary refuses an unknown flag or a missing one.
			fmt.Fprintf(stderr, "fakeconcourse: %v\n", err)
			return 2
		}
		if role == concourse.RoleWeb {
			return f.web()
		}
		return f.worker()
	case len(args) >= 1 && args[0] == "retire-worker":
		return f.retireWorker(args[1:])
	}
	fmt.Fprintf(stderr, "fakeconcourse: unknown command %q\n", args)
	return 2
}

type fake struct {
	dir            string
	drainAfter     time.Duration
	stdout, stderr io.Writer
}

func (f fake) on(name string) bool {
	_, err := os.Stat(filepath.Join(f.dir, name))
	return err == nil
}

// note records an event (synced: the test reads it even after a SIGKILL).
func (f fake) note(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	fmt.Fprintln(f.stdout, "concourse (fake):", line)
	file, err := os.OpenFile(filepath.Join(f.dir, ReceivedFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		fmt.Fprintln(f.stderr, "fakeconcourse:", err)
		return
	}
	defer file.Close()
	_, _ = file.WriteString(line + "\n")
	_ = file.Sync()
}

// concourseEnv keeps the CONCOURSE_* settings of an environment.
func concourseEnv(environ []string) map[string]string {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "CONCOURSE_") {
			env[k] = v
		}
	}
	return env
}

// web runs until SIGTERM or SIGINT, as `concourse web` does.
func (f fake) web() int {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	f.note("web started pid %d", os.Getpid())
	s := <-sigs
	f.note("web exiting on %s", unix.SignalName(s.(syscall.Signal)))
	return 0
}

// worker runs until it has landed or retired, or gets SIGTERM or SIGKILL.
// A drain signal starts a drain of DrainAfter; a land signal during a
// retire turns it into a land (worker/drain/runner.go).
func (f fake) worker() int {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGTERM, syscall.SIGINT)
	f.mountVolumes()
	f.note("started pid %d", os.Getpid())
	var (
		draining string // "", "landing", "retiring"
		done     <-chan time.Time
	)
	for {
		select {
		case s := <-sigs:
			sig := s.(syscall.Signal)
			f.note("received %s", unix.SignalName(sig))
			switch sig {
			case syscall.SIGUSR1, syscall.SIGUSR2:
				if f.on(Stuck) {
					f.note("stuck: ignoring %s", unix.SignalName(sig))
					continue
				}
				if sig == syscall.SIGUSR1 {
					draining = "landing"
				} else if draining != "landing" {
					draining = "retiring"
				}
				if done == nil {
					done = time.After(f.drainAfter)
				}
			default: // SIGTERM, SIGINT
				if f.on(IgnoreTerm) {
					f.note("ignoring %s", unix.SignalName(sig))
					continue
				}
				if draining == "retiring" && !f.on(GatewayGone) {
					f.note("deleted registration")
				}
				f.note("exiting on %s", unix.SignalName(sig))
				return 0
			}
		case <-done:
			if f.on(GatewayGone) {
				f.note("gateway gone")
				fmt.Fprintln(f.stderr, GatewaysGoneMessage)
				return 1
			}
			if draining == "landing" {
				f.note("landed")
			} else {
				f.note("retired")
			}
			return 0
		}
	}
}

// mountVolumes does what a real worker's volume driver does on every start
// when CONCOURSE_WORK_DIR is set: it mounts its volumes again, on top of
// the mounts of earlier runs.
func (f fake) mountVolumes() {
	work := os.Getenv("CONCOURSE_WORK_DIR")
	if work == "" || !f.on(MountVolumes) {
		return
	}
	src, dst := filepath.Join(work, "volumes", "data"), filepath.Join(work, "volumes", "live")
	for _, d := range []string{src, dst} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			fmt.Fprintln(f.stderr, "fakeconcourse:", err)
			return
		}
	}
	if err := unix.Mount(src, dst, "", unix.MS_BIND, ""); err != nil {
		fmt.Fprintln(f.stderr, "fakeconcourse: mount volume:", err)
		return
	}
	f.note("mounted %s", dst)
}

// retireWorker is `concourse retire-worker`: it needs the worker's name
// and the TSA settings, and fails when the TSA cannot be reached.
func (f fake) retireWorker(args []string) int {
	flags := flag.NewFlagSet("retire-worker", flag.ContinueOnError)
	flags.SetOutput(f.stderr)
	name := flags.String("name", "", "")
	tsaHost := flags.String("tsa-host", "", "")
	pub := flags.String("tsa-public-key", "", "")
	key := flags.String("tsa-worker-private-key", "", "")
	if err := flags.Parse(args); err != nil {
		return 2
	}
	for flagName, v := range map[string]string{"name": *name, "tsa-host": *tsaHost, "tsa-public-key": *pub, "tsa-worker-private-key": *key} {
		if v == "" {
			fmt.Fprintf(f.stderr, "error: the required flag `--%s' was not specified\n", flagName)
			return 1
		}
	}
	if f.on(GatewayGone) {
		f.note("retire-worker --name=%s failed: gateway gone", *name)
		fmt.Fprintf(f.stderr, "failed to connect to TSA %s\n", *tsaHost)
		return 1
	}
	f.note("retire-worker --name=%s --tsa-host=%s", *name, *tsaHost)
	return 0
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// Lines is a helper for assertions: the recorded lines with a prefix.
func Lines(lines []string, prefix string) []string {
	var out []string
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return out
}

// PID parses "started pid N" lines: the PIDs of the worker's runs.
func PIDs(lines []string) []int {
	var pids []int
	for _, l := range Lines(lines, "started pid ") {
		if pid, err := strconv.Atoi(strings.TrimPrefix(l, "started pid ")); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// MinimalEnv is the least environment `concourse <role>` accepts (the
// settings CheckEnv requires), with the files it names created in dir:
// for tests that run the fake outside the charm.
func MinimalEnv(role concourse.Role, dir string) (map[string]string, error) {
	env := map[string]string{}
	for _, f := range concourse.Flags(role) {
		if !f.Required {
			continue
		}
		path := filepath.Join(dir, strings.ToLower(strings.TrimPrefix(f.Env, "CONCOURSE_")))
		if err := os.WriteFile(path, []byte("placeholder\n"), 0o600); err != nil {
			return nil, fmt.Errorf("fakeconcourse: %w", err)
		}
		env[f.Env] = path
	}
	if role == concourse.RoleWorker {
		work := filepath.Join(dir, "work")
		if err := os.MkdirAll(work, 0o755); err != nil {
			return nil, fmt.Errorf("fakeconcourse: %w", err)
		}
		env["CONCOURSE_WORK_DIR"] = work
	}
	return env, nil
}
