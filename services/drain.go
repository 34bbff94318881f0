package services

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/fsutil"
)

// Outcome says how a stop ended.
type Outcome int

const (
	// NotRunning: nothing ran, so nothing was signalled.
	NotRunning Outcome = iota
	// Stopped: a unit without a drain helper (web) exited on its
	// KillSignal within its stop timeout.
	Stopped
	// Drained: the worker exited with status 0 after the drain signal:
	// the ATC knows it landed (or retired).
	Drained
	// NotHeard: the worker exited by itself after the drain signal, but not
	// cleanly (status 1: "all SSH gateways disappeared while draining"):
	// the ATC did not hear of it and will show it stalled.
	NotHeard
	// Terminated: the worker was still draining at the drain timeout and
	// exited on SIGTERM within the grace. Builds were interrupted; a
	// retiring worker deleted its registration.
	Terminated
	// Killed: the worker (or a web unit) did not exit on SIGTERM in time
	// and was SIGKILLed; the ATC may still list it (stalled).
	Killed
	// RetiredOffline: the worker was not running; Retire ran the offline
	// retire command (`concourse retire-worker`), which succeeded.
	RetiredOffline
)

var outcomeNames = [...]string{"not-running", "stopped", "drained", "not-heard", "terminated", "killed", "retired-offline"}

func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// DrainResult is how a Stop, Restart or Retire went.
type DrainResult struct {
	Unit    string
	Outcome Outcome
	// Signal is the drain signal sent (SIGUSR1 land, SIGUSR2 retire); ""
	// when none was.
	Signal string
	// Draining is how long the worker took from the drain signal until it
	// exited (zero when no drain signal was sent).
	Draining time.Duration
	// ExecMainCode and ExecMainStatus are systemd's account of how the main
	// process ended (see State); zero when systemd has forgotten it (it
	// unloads a unit that stopped cleanly and is not referenced).
	ExecMainCode, ExecMainStatus int32
	// StaleRetireRemoved: a retire flag left by an interrupted Retire was
	// found and removed before this stop, so the worker landed.
	StaleRetireRemoved bool
}

// stop stops the unit, the worker retiring when retire is set, and reads
// how it went.
func (m *Manager) stop(ctx context.Context, op, name string, retire bool) (DrainResult, error) {
	res := DrainResult{Unit: name}
	stateDir := m.rooted(drainStateDir(name))
	if !retire {
		removed, err := m.clearRetireFlag(name)
		if err != nil {
			return res, err
		}
		res.StaleRetireRemoved = removed
	}
	// A result left by an earlier stop must not be read as this one's.
	if err := fsutil.RemoveIfExists(filepath.Join(stateDir, drainResultFile)); err != nil {
		return res, err
	}
	before, err := m.state(ctx, op, name)
	if err != nil {
		return res, err
	}
	if err := m.runJob(ctx, op, name, m.conn.StopUnitContext, m.cfg.JobTimeout+before.StopTimeout); err != nil {
		return res, err
	}
	if !before.running() {
		return res, nil // NotRunning: an old Result says nothing about this stop
	}
	after, err := m.state(ctx, op, name)
	if err != nil {
		return res, err
	}
	res.ExecMainCode, res.ExecMainStatus = after.ExecMainCode, after.ExecMainStatus
	rec, found, err := readDrainRecord(stateDir)
	if err != nil {
		return res, err
	}
	switch {
	case !found && !after.HasExecStop:
		res.Outcome = Stopped
		if after.Result == "timeout" {
			res.Outcome = Killed
		}
		return res, nil
	case !found:
		return res, &DrainHelperError{Unit: name, Op: op, Problem: "no record in " + filepath.Join(drainStateDir(name), drainResultFile), Status: m.status(ctx, op, name)}
	}
	res.Signal = rec.Signal
	if !rec.Exited.IsZero() {
		res.Draining = rec.Exited.Sub(rec.Signaled)
	}
	switch rec.Ended {
	case endedNotRunning:
		res.Outcome = NotRunning
	case endedAfterDrain:
		// A worker that exited 0 leaves the unit inactive, and systemd may
		// unload an inactive unit at once (forgetting ExecMain*); one that
		// failed stays loaded, failed, with its Result.
		res.Outcome = Drained
		if after.Result != "success" {
			res.Outcome = NotHeard
		}
	case endedAfterTerm:
		res.Outcome = Terminated
	case endedAfterKill:
		res.Outcome = Killed
	default:
		return res, &DrainHelperError{Unit: name, Op: op, Problem: fmt.Sprintf("unknown ending %q", rec.Ended), Status: m.status(ctx, op, name)}
	}
	return res, nil
}

// Retire stops a worker that is going away for good: the helper sends the
// retire signal instead of the land signal, with the same drain timeout,
// SIGTERM (on which a retiring worker deletes its registration) and SIGKILL
// (see Stop for the result). A worker that is not running cannot hear a
// signal: Retire then runs offline, the caller's retire command (e.g.
// `concourse retire-worker --name ... --tsa-host ... --tsa-public-key ...
// --tsa-worker-private-key ...`); with no command it only reports
// NotRunning. Call Uninstall afterwards.
//
// How: Retire sets the unit's retire flag (a file the helper reads) for
// the duration of one stop job, so systemd itself runs the stop and no
// automatic restart can bring the worker back meanwhile. Signalling the
// worker directly and then stopping would not do: the stop's land signal
// turns a retiring worker into a landing one. An interrupted Retire leaves
// the flag behind; the next Stop or Install removes it.
func (m *Manager) Retire(ctx context.Context, name string, offline []string) (DrainResult, error) {
	if err := checkUnitName("unit name", name); err != nil {
		return DrainResult{}, err
	}
	st, err := m.state(ctx, "retire", name)
	if err != nil {
		return DrainResult{Unit: name}, err
	}
	if !st.running() {
		return m.retireOffline(ctx, name, offline)
	}
	flag := filepath.Join(m.rooted(drainStateDir(name)), retireFlagFile)
	if err := os.MkdirAll(filepath.Dir(flag), 0o755); err != nil {
		return DrainResult{Unit: name}, fmt.Errorf("services: %w", err)
	}
	if err := fsutil.WriteFile(flag, nil, 0o644); err != nil {
		return DrainResult{Unit: name}, err
	}
	res, err := m.stop(ctx, "retire", name, true)
	// Even when the stop failed or ctx ended: a flag left behind would make
	// the next ordinary stop retire.
	return res, errors.Join(err, fsutil.RemoveIfExists(flag))
}

// retireOffline runs the caller's retire command for a stopped worker.
func (m *Manager) retireOffline(ctx context.Context, name string, argv []string) (DrainResult, error) {
	res := DrainResult{Unit: name}
	if _, err := m.clearRetireFlag(name); err != nil {
		return res, err
	}
	if len(argv) == 0 {
		return res, nil
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return res, &CancelledError{Unit: name, Op: "retire", Err: ctx.Err()}
		}
		return res, &OfflineRetireError{Unit: name, Argv: argv, Err: err, Output: lastBytes(out.Bytes(), 4096)}
	}
	res.Outcome = RetiredOffline
	return res, nil
}

// clearRetireFlag removes the unit's retire flag; it reports whether there
// was one.
func (m *Manager) clearRetireFlag(name string) (bool, error) {
	flag := filepath.Join(m.rooted(drainStateDir(name)), retireFlagFile)
	if _, err := os.Stat(flag); errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return true, fsutil.RemoveIfExists(flag)
}

func lastBytes(b []byte, n int) string {
	b = bytes.TrimSpace(b)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
