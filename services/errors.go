package services

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Sentinels for errors.Is; each typed error below matches exactly one.
var (
	// ErrBusUnavailable: systemd could not be reached over D-Bus.
	ErrBusUnavailable = errors.New("systemd bus unavailable")
	// ErrUnitNotFound: systemd knows no such unit.
	ErrUnitNotFound = errors.New("unit not found")
	// ErrUnitFailed: a start/stop/restart job did not succeed, or the
	// service died right after starting.
	ErrUnitFailed = errors.New("unit failed")
	// ErrJobTimeout: systemd did not finish the job in the time allowed.
	ErrJobTimeout = errors.New("systemd job timed out")
	// ErrKilledAtStopTimeout: a stop completed only because systemd killed
	// the service at its stop (drain) timeout.
	ErrKilledAtStopTimeout = errors.New("killed at stop timeout")
	// ErrInvalidValue: a value for a unit or environment file was rejected
	// before anything was written.
	ErrInvalidValue = errors.New("invalid value")
)

// BusError says systemd's D-Bus endpoint could not be used.
type BusError struct {
	Address string
	Op      string
	Err     error
}

func (e *BusError) Error() string {
	return fmt.Sprintf("services: %s: cannot talk to systemd at %s: %v; check that systemd is running "+
		"and the bus address is right (system manager: unix:path=/run/systemd/private)", e.Op, e.Address, e.Err)
}

func (e *BusError) Unwrap() error        { return e.Err }
func (e *BusError) Is(target error) bool { return target == ErrBusUnavailable }

// UnitNotFoundError says systemd has no unit by that name (no unit file on
// its search path, or not loaded since the file appeared).
type UnitNotFoundError struct {
	Unit string
	Op   string
}

func (e *UnitNotFoundError) Error() string {
	return fmt.Sprintf("services: %s %s: systemd has no such unit; install it first (Manager.Install) "+
		"or check the unit name", e.Op, e.Unit)
}

func (e *UnitNotFoundError) Is(target error) bool { return target == ErrUnitNotFound }

// JobError says a job on a unit did not succeed. It carries what systemd
// says about the unit afterwards and the last lines of the unit's log.
type JobError struct {
	Unit string
	Op   string // start, stop, restart, retire
	// Result is systemd's job result: done, canceled, timeout, failed,
	// dependency or skipped.
	Result string
	// ExitedAfterStart is set when the job itself succeeded but the
	// service's main process died right after (while settling).
	ExitedAfterStart bool
	ActiveState      string // e.g. failed, activating
	SubState         string // e.g. failed, auto-restart
	UnitResult       string // the service's Result property: exit-code, signal, timeout...
	ExecMainStatus   int32  // exit status or signal of the main process
	LogTail          []string
}

func (e *JobError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "services: %s %s: ", e.Op, e.Unit)
	if e.ExitedAfterStart {
		b.WriteString("the service exited right after starting")
	} else {
		fmt.Fprintf(&b, "job result %q", e.Result)
	}
	fmt.Fprintf(&b, " (state %s/%s, result %s, main process status %d)", e.ActiveState, e.SubState, e.UnitResult, e.ExecMainStatus)
	if len(e.LogTail) > 0 {
		fmt.Fprintf(&b, "; last log lines:\n  %s\n", strings.Join(e.LogTail, "\n  "))
	} else {
		b.WriteString("; no log lines could be read; ")
	}
	fmt.Fprintf(&b, "fix the cause shown by `systemctl status %s` and its log, then retry", e.Unit)
	return b.String()
}

func (e *JobError) Is(target error) bool { return target == ErrUnitFailed }

// JobTimeoutError says the job was still queued or running when the wait
// ended. The job is NOT cancelled: systemd may still complete it.
type JobTimeoutError struct {
	Unit   string
	Op     string
	Waited time.Duration
	// Err is the context error that ended the wait.
	Err error
}

func (e *JobTimeoutError) Error() string {
	return fmt.Sprintf("services: %s %s: systemd did not finish the job within %v; it may still be running: "+
		"look at `systemctl status %s` and `systemctl list-jobs`, then retry or raise the timeout",
		e.Op, e.Unit, e.Waited.Round(time.Millisecond), e.Unit)
}

func (e *JobTimeoutError) Unwrap() error        { return e.Err }
func (e *JobTimeoutError) Is(target error) bool { return target == ErrJobTimeout }

// KilledAtStopTimeoutError says a stop finished only because systemd killed
// the service at its stop timeout. The unit IS stopped; for a worker it
// means the drain timeout ran out and running builds were interrupted.
type KilledAtStopTimeoutError struct {
	Unit    string
	Op      string
	Timeout time.Duration
}

func (e *KilledAtStopTimeoutError) Error() string {
	return fmt.Sprintf("services: %s %s: the service did not exit within its stop timeout (%v) and systemd killed it; "+
		"the unit is stopped, but a worker's running builds were interrupted: raise the drain timeout if builds need longer",
		e.Op, e.Unit, e.Timeout)
}

func (e *KilledAtStopTimeoutError) Is(target error) bool { return target == ErrKilledAtStopTimeout }

// ValidationError names the field whose value was rejected and why.
type ValidationError struct {
	Field   string // e.g. WebUnit.User
	Problem string
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("services: %s: %s; fix the value in the charm configuration (nothing was written)", e.Field, e.Problem)
}

func (e *ValidationError) Is(target error) bool { return target == ErrInvalidValue }
