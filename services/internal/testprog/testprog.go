// Package testprog is the program the services tests run inside real
// systemd units (the test binary re-executes itself into Main). It stands in
// for `concourse web`/`concourse worker`: it can run forever, fail at once,
// take a while to land after a drain signal, or ignore it.
package testprog

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Usage lists the modes.
const Usage = `testprog forever
testprog fail
testprog drain DURATION MARKER   # on SIGUSR1/SIGUSR2: note it, work DURATION, exit 0
testprog ignore MARKER           # on SIGUSR1/SIGUSR2: note it and carry on
testprog args OUTFILE [ARG...]    # write argv and environment as JSON, then run forever`

// Report is what "args" mode writes.
type Report struct {
	Args []string          `json:"args"` // the whole argv, as systemd passed it`
	Env  map[string]string `json:"env"`
}

// Main runs one mode and returns the exit status.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, Usage)
		return 2
	}
	mode, rest := args[0], args[1:]
	switch {
	case mode == "forever" && len(rest) == 0:
		fmt.Fprintf(stdout, "testprog: running as pid %d\n", os.Getpid())
		select {}
	case mode == "fail" && len(rest) == 0:
		fmt.Fprintln(stderr, "testprog: failing on purpose with exit status 1")
		return 1
	case mode == "drain" && len(rest) == 2:
		d, err := time.ParseDuration(rest[0])
		if err != nil {
			fmt.Fprintln(stderr, "testprog:", err)
			return 2
		}
		return drain(d, rest[1], stdout, stderr)
	case mode == "ignore" && len(rest) == 1:
		return ignore(rest[0], stdout, stderr)
	case mode == "args" && len(rest) >= 1:
		if err := writeReport(rest[0], os.Args); err != nil {
			fmt.Fprintln(stderr, "testprog:", err)
			return 1
		}
		select {}
	}
	fmt.Fprintln(stderr, Usage)
	return 2
}

// drainSignals are Concourse's land and retire signals.
func drainSignals() []os.Signal { return []os.Signal{syscall.SIGUSR1, syscall.SIGUSR2} }

func drain(work time.Duration, marker string, stdout, stderr io.Writer) int {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, drainSignals()...)
	if err := note(marker, "ready"); err != nil {
		fmt.Fprintln(stderr, "testprog:", err)
		return 1
	}
	fmt.Fprintf(stdout, "testprog: pid %d waiting for a drain signal\n", os.Getpid())
	sig := <-sigs
	if err := note(marker, "received "+unix.SignalName(sig.(syscall.Signal))); err != nil {
		fmt.Fprintln(stderr, "testprog:", err)
		return 1
	}
	fmt.Fprintf(stdout, "testprog: draining for %v\n", work)
	time.Sleep(work) // the "running builds"
	if err := note(marker, "finished"); err != nil {
		fmt.Fprintln(stderr, "testprog:", err)
		return 1
	}
	fmt.Fprintln(stdout, "testprog: drained, exiting")
	return 0
}

func ignore(marker string, stdout, stderr io.Writer) int {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, drainSignals()...)
	if err := note(marker, "ready"); err != nil {
		fmt.Fprintln(stderr, "testprog:", err)
		return 1
	}
	for sig := range sigs {
		if err := note(marker, "received "+unix.SignalName(sig.(syscall.Signal))+", ignoring it"); err != nil {
			fmt.Fprintln(stderr, "testprog:", err)
			return 1
		}
		fmt.Fprintln(stdout, "testprog: ignoring", sig)
	}
	return 0
}

// note appends a line to the marker file and syncs it, so the test reads it
// even when the process is SIGKILLed right after.
func note(marker, line string) error {
	f, err := os.OpenFile(marker, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(line + "\n"); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func writeReport(path string, args []string) error {
	r := Report{Args: args, Env: map[string]string{}}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		r.Env[k] = v
	}
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
