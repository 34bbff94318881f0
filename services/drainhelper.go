package services

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/fsutil"
)

// Files in a worker's drain state directory (drainStateDir).
const (
	retireFlagFile  = "retire" // present: the next stop retires instead of landing
	drainResultFile = "result" // the helper's drainRecord of the last stop
)

// How the main process ended, as the helper saw it.
const (
	endedNotRunning = "not-running"   // no main process: nothing was signalled
	endedAfterDrain = "after-drain"   // it exited within the drain timeout
	endedAfterTerm  = "after-sigterm" // it exited within the grace after SIGTERM
	endedAfterKill  = "after-sigkill" // it needed SIGKILL
)

// drainRecord is what the helper leaves for the Manager in drainResultFile.
type drainRecord struct {
	Signal   string    `json:"signal,omitempty"` // the drain signal sent
	Ended    string    `json:"ended"`
	Signaled time.Time `json:"signaled"`
	Exited   time.Time `json:"exited"`
}

// drainPoll bounds each wait on the main process, so a cancelled helper
// notices promptly.
const drainPoll = 100 * time.Millisecond

// RunDrainHelper is the worker unit's stop helper, run by systemd as
// ExecStop= (and ExecStopPost=) of the units WorkerUnit renders; the charm's
// binary wires it as a subcommand. As ExecStop it reads the main process
// from $MAINPID (getenv), sends it the land signal (the retire signal when
// Retire set the unit's retire flag), waits up to --timeout for it to exit,
// then sends SIGTERM and waits up to --grace, then SIGKILL, and records how
// it ended in --state-dir for Stop, Restart and Retire to report. With
// --unmount-under=DIR (ExecStopPost) it unmounts what the stopped worker
// left mounted under DIR instead. Progress goes to log (the unit's log).
func RunDrainHelper(ctx context.Context, args []string, getenv func(string) string, log io.Writer) error {
	flags := flag.NewFlagSet("drain-worker", flag.ContinueOnError)
	flags.SetOutput(log)
	timeout := flags.Duration("timeout", DefaultDrainTimeout, "how long the worker may take to drain")
	grace := flags.Duration("grace", DefaultStopGrace, "how long the worker may take to exit after SIGTERM")
	stateDir := flags.String("state-dir", "", "where the retire flag is read and the result written")
	unmountUnder := flags.String("unmount-under", "", "unmount everything under this directory, and do nothing else")
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &ValidationError{Field: "drain-worker arguments", Problem: err.Error()}
	}
	if flags.NArg() > 0 {
		return &ValidationError{Field: "drain-worker arguments", Problem: fmt.Sprintf("unexpected %q", flags.Args())}
	}
	if *unmountUnder != "" {
		done, err := UnmountUnder(*unmountUnder)
		for _, m := range done {
			fmt.Fprintf(log, "drain-worker: unmounted %s\n", m)
		}
		return err
	}
	if !filepath.IsAbs(*stateDir) {
		return &ValidationError{Field: "drain-worker --state-dir", Problem: fmt.Sprintf("%q is not an absolute path", *stateDir)}
	}
	if *timeout <= 0 || *grace <= 0 {
		return &ValidationError{Field: "drain-worker --timeout/--grace", Problem: "must be positive"}
	}
	rec, err := drainMain(ctx, getenv("MAINPID"), *stateDir, *timeout, *grace, log)
	if werr := writeDrainRecord(*stateDir, rec); werr != nil {
		err = errors.Join(err, werr)
	}
	return err
}

// drainMain runs Concourse's stop sequence on the main process.
func drainMain(ctx context.Context, mainPID, stateDir string, timeout, grace time.Duration, log io.Writer) (drainRecord, error) {
	pid, _ := strconv.Atoi(mainPID)
	if pid <= 0 {
		fmt.Fprintln(log, "drain-worker: no main process to drain")
		return drainRecord{Ended: endedNotRunning}, nil
	}
	pidfd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		fmt.Fprintf(log, "drain-worker: main process %d is gone\n", pid)
		return drainRecord{Ended: endedNotRunning}, nil
	}
	if err != nil {
		return drainRecord{}, fmt.Errorf("drain-worker: watch process %d: %w", pid, err)
	}
	defer unix.Close(pidfd)

	sig, what := LandSignal, "land"
	if _, err := os.Stat(filepath.Join(stateDir, retireFlagFile)); err == nil {
		sig, what = RetireSignal, "retire"
	}
	rec := drainRecord{Signal: unix.SignalName(sig), Signaled: time.Now()}
	steps := []struct {
		sig   syscall.Signal
		wait  time.Duration
		ended string
	}{
		{sig, timeout, endedAfterDrain},
		{syscall.SIGTERM, grace, endedAfterTerm},
		{syscall.SIGKILL, grace, endedAfterKill},
	}
	for i, step := range steps {
		if i == 0 {
			fmt.Fprintf(log, "drain-worker: sending %s (%s) to %d, waiting up to %v\n", unix.SignalName(step.sig), what, pid, step.wait)
		} else {
			fmt.Fprintf(log, "drain-worker: %d still running; sending %s, waiting up to %v\n", pid, unix.SignalName(step.sig), step.wait)
		}
		if err := unix.PidfdSendSignal(pidfd, step.sig, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
			return rec, fmt.Errorf("drain-worker: signal %d: %w", pid, err)
		}
		exited, err := waitExit(ctx, pidfd, step.wait)
		if err != nil {
			return rec, err
		}
		if exited {
			rec.Ended, rec.Exited = step.ended, time.Now()
			fmt.Fprintf(log, "drain-worker: %d exited %v after the %s signal\n", pid, rec.Exited.Sub(rec.Signaled).Round(time.Millisecond), what)
			return rec, nil
		}
	}
	return rec, fmt.Errorf("drain-worker: process %d survived SIGKILL for %v", pid, grace)
}

// waitExit waits until the process behind pidfd exits (true), d passes
// (false) or ctx ends.
func waitExit(ctx context.Context, pidfd int, d time.Duration) (bool, error) {
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return false, nil
		}
		if err := ctx.Err(); err != nil {
			return false, fmt.Errorf("drain-worker: %w", err)
		}
		fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, int(min(left, drainPoll).Milliseconds())+1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("drain-worker: wait for the main process: %w", err)
		}
		if n > 0 {
			return true, nil
		}
	}
}

func writeDrainRecord(stateDir string, rec drainRecord) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return fmt.Errorf("drain-worker: %w", err)
	}
	return fsutil.WriteFile(filepath.Join(stateDir, drainResultFile), data, 0o644)
}

// readDrainRecord reads the helper's record; ok is false when there is none.
func readDrainRecord(stateDir string) (rec drainRecord, ok bool, err error) {
	data, err := os.ReadFile(filepath.Join(stateDir, drainResultFile))
	if errors.Is(err, os.ErrNotExist) {
		return rec, false, nil
	}
	if err != nil {
		return rec, false, err
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		return rec, false, fmt.Errorf("services: drain result %s: %w", filepath.Join(stateDir, drainResultFile), err)
	}
	return rec, true, nil
}
