package services

import (
	"fmt"
	"strings"
	"time"
)

// Every error this package returns about a unit is one of the types below
// (match them with errors.As), a *ValidationError for bad input, or an
// error from the filesystem. They say what happened; what to do about it is
// the charm's to say.

// ValidationError names the field whose value was rejected and why.
// Nothing was written.
type ValidationError struct {
	Field   string // e.g. WebUnit.User
	Problem string
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("services: %s: %s", e.Field, e.Problem)
}

// BusError says systemd's D-Bus endpoint could not be used: no socket,
// refused, or the connection was lost.
type BusError struct {
	Address string
	Op      string
	Err     error
}

func (e *BusError) Error() string {
	return fmt.Sprintf("services: %s: cannot talk to systemd at %s: %v", e.Op, e.Address, e.Err)
}

func (e *BusError) Unwrap() error { return e.Err }

// UnitNotFoundError says systemd has no unit by that name (no unit file on
// its search path).
type UnitNotFoundError struct {
	Unit string
	Op   string
}

func (e *UnitNotFoundError) Error() string {
	return fmt.Sprintf("services: %s %s: systemd has no such unit", e.Op, e.Unit)
}

// UnitStatus is what systemd said about a unit after a job went wrong.
type UnitStatus struct {
	ActiveState string // e.g. failed, activating
	SubState    string // e.g. failed, auto-restart
	Result      string // the service's Result: exit-code, signal, timeout...
	// ExecMainCode and ExecMainStatus describe how the last main process
	// ended: code 1 (exited) with its exit status, 2 (killed) or 3 (dumped
	// core) with the signal number; 0 when systemd has no record (none
	// ended, or it unloaded the inactive unit).
	ExecMainCode   int32
	ExecMainStatus int32
	// LogTail is the unit's last log lines (its log file or the journal),
	// nil when none could be read.
	LogTail []string
}

// unitError renders "services: OP UNIT: WHAT (state ...); last log lines".
func unitError(op, unit, what string, s UnitStatus) string {
	var b strings.Builder
	fmt.Fprintf(&b, "services: %s %s: %s", op, unit, what)
	s.describe(&b)
	return b.String()
}

func (s UnitStatus) describe(b *strings.Builder) {
	fmt.Fprintf(b, " (state %s/%s, result %s, main process %s)", s.ActiveState, s.SubState, s.Result, describeExit(s.ExecMainCode, s.ExecMainStatus))
	if len(s.LogTail) > 0 {
		fmt.Fprintf(b, "; last log lines:\n  %s", strings.Join(s.LogTail, "\n  "))
	} else {
		b.WriteString("; no log lines could be read")
	}
}

// describeExit renders systemd's ExecMainCode/ExecMainStatus pair.
func describeExit(code, status int32) string {
	switch code {
	case 1:
		return fmt.Sprintf("exited with status %d", status)
	case 2:
		return fmt.Sprintf("killed by signal %d", status)
	case 3:
		return fmt.Sprintf("dumped core on signal %d", status)
	}
	return "with no exit recorded"
}

// StartFailedError says a start or restart did not leave the service
// running: the job failed (the program could not be executed, an ExecStartPre
// failed), or the job succeeded but the main process exited while Start
// watched it (Config.StartSettle).
type StartFailedError struct {
	Unit string
	Op   string // start, restart
	// ExitedAfterStart: the job succeeded, then the process exited.
	ExitedAfterStart bool
	Status           UnitStatus
}

func (e *StartFailedError) Error() string {
	what := "the start job failed"
	if e.ExitedAfterStart {
		what = "the service exited right after it started"
	}
	return unitError(e.Op, e.Unit, what, e.Status)
}

// DependencyFailedError says systemd did not run the job because a unit it
// requires failed to start.
type DependencyFailedError struct {
	Unit   string
	Op     string
	Status UnitStatus
}

func (e *DependencyFailedError) Error() string {
	return unitError(e.Op, e.Unit, "a dependency of the unit failed", e.Status)
}

// JobTimeoutError says the job did not finish in time: the wait this
// package allows ran out (BySystemd false; the job may still be running in
// systemd and is NOT cancelled), or systemd itself timed the job out
// (BySystemd true, the unit's JobTimeoutSec).
type JobTimeoutError struct {
	Unit      string
	Op        string
	Waited    time.Duration
	BySystemd bool
}

func (e *JobTimeoutError) Error() string {
	if e.BySystemd {
		return fmt.Sprintf("services: %s %s: systemd timed the job out", e.Op, e.Unit)
	}
	return fmt.Sprintf("services: %s %s: the job was not finished after %v", e.Op, e.Unit, e.Waited.Round(time.Millisecond))
}

// CancelledError says the caller's context ended (cancelled, or its own
// deadline passed) before the operation finished. A job already queued goes
// on in systemd. It unwraps to the context's error.
type CancelledError struct {
	Unit string
	Op   string
	Err  error // context.Canceled or context.DeadlineExceeded
}

func (e *CancelledError) Error() string {
	return fmt.Sprintf("services: %s %s: the caller stopped waiting: %v", e.Op, e.Unit, e.Err)
}

func (e *CancelledError) Unwrap() error { return e.Err }

// JobError says systemd ended a job with another result: "canceled" (another
// job replaced it, e.g. a concurrent stop), "skipped", or "failed" for a job
// that is not a start.
type JobError struct {
	Unit   string
	Op     string
	Result string
	Status UnitStatus
}

func (e *JobError) Error() string {
	return unitError(e.Op, e.Unit, fmt.Sprintf("systemd ended the job with result %q", e.Result), e.Status)
}

// DrainHelperError says a worker stopped without its drain helper's record
// of how the drain went: the helper could not run (its program is missing)
// or did not finish, so systemd stopped the worker with its KillSignal
// alone. Status says how the worker ended.
type DrainHelperError struct {
	Unit    string
	Op      string
	Problem string
	Status  UnitStatus
}

func (e *DrainHelperError) Error() string {
	return unitError(e.Op, e.Unit, "the drain helper left no result: "+e.Problem, e.Status)
}

// OfflineRetireError says the retire command for a worker that was not
// running failed.
type OfflineRetireError struct {
	Unit   string
	Argv   []string
	Err    error  // the exec error or exit status
	Output string // the command's last output
}

func (e *OfflineRetireError) Error() string {
	return fmt.Sprintf("services: retire %s: %s: %v: %s", e.Unit, strings.Join(e.Argv, " "), e.Err, e.Output)
}

func (e *OfflineRetireError) Unwrap() error { return e.Err }
