package services

import (
	"fmt"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/unitname"
)

// How `concourse worker` drains, from Concourse's source
// (github.com/concourse/concourse, worker/drain/signals_unix.go and
// worker/drain/runner.go): SIGUSR1 lands the worker (it stays registered,
// takes no new work and lets running builds finish, keeping its volumes),
// SIGUSR2 retires it (the same, then the ATC forgets it). Once the TSA
// reports it landed or retired, the worker exits by itself with status 0.
// A drain signal only ASKS the TSA: a retiring worker deletes its
// registration only when a shutdown signal (SIGTERM/SIGINT) follows, and a
// later ordinary stop turns "retiring" into "landing". A worker that cannot
// reach the TSA while draining exits 1 ("all SSH gateways disappeared while
// draining") or never exits; the ATC then shows it stalled for good.
const (
	LandSignal   = syscall.SIGUSR1
	RetireSignal = syscall.SIGUSR2
)

// Drain timing.
const (
	// DefaultDrainTimeout is how long a stopping worker may take to land or
	// retire: running builds get this long to finish.
	DefaultDrainTimeout = 10 * time.Minute
	// MinDrainTimeout is the shortest drain timeout the charm accepts (its
	// config parsing refuses less).
	// Measured against a real Concourse 7.x (web, PostgreSQL 15, a houdini
	// worker): an IDLE worker needs up to ~60 s to land (the ATC marks it
	// landed on its 30 s collection pass; the worker exits on the next 30 s
	// TSA heartbeat) and ~30 s to retire; with a 20 s timeout every idle stop
	// was killed, with 180 s it exited by itself after 52.7 s (land) and 27 s
	// (retire). 90 s covers the 60 s worst case with room for a slow
	// heartbeat. This package accepts any positive value (tests use short
	// ones); the charm's config parsing enforces the minimum.
	MinDrainTimeout = 90 * time.Second
	// DefaultStopGrace is how long a worker gets to exit after SIGTERM (once
	// the drain timeout ran out) before it is SIGKILLed. A retiring worker
	// deletes its registration in that time.
	DefaultStopGrace = 30 * time.Second
	// helperMargin is added to the unit's TimeoutStopSec beyond drain and
	// grace, for the helper's own start and its SIGKILL wait: systemd's
	// timeout is only the backstop for a helper that hangs or cannot run.
	helperMargin = 15 * time.Second
)

// DrainStateRoot holds one directory per worker unit (DrainStateRoot/<unit
// name>): the retire flag Retire sets and the result the drain helper
// leaves. Under /run: a flag must not outlive a reboot.
const DrainStateRoot = "/run/concourse-ci-machine/drain"

// drainStateDir is the unit's directory in DrainStateRoot, as systemd's
// processes see it.
func drainStateDir(name string) string { return filepath.Join(DrainStateRoot, name) }

// WorkerUnit describes the Concourse worker service of one charm unit. It
// runs as root: the worker creates containers (cgroups, mounts, network
// namespaces), so none of the web unit's hardening applies.
type WorkerUnit struct {
	// Unit is the charm unit; the systemd unit is WorkerUnitName(Unit).
	Unit        unitname.Name
	Description string // default "Concourse CI worker of <unit>"
	// Command is the argv, e.g. {".../concourse/bin/concourse", "worker"}.
	Command []string
	// DrainHelper is the argv prefix of the drain helper (RunDrainHelper),
	// e.g. {"<charm dir>/concourse-ci-machine", "drain-worker"}. Every stop
	// runs it (ExecStop=) with the main process in $MAINPID.
	DrainHelper []string
	// EnvironmentFile holds CONCOURSE_* settings and keys (optional).
	EnvironmentFile string
	// WorkDir is the working directory, usually the unit's own worker dir.
	WorkDir string
	// MountsUnder, when set, is the worker's CONCOURSE_WORK_DIR: after every
	// stop the helper unmounts whatever is still mounted under it (the
	// worker leaves its volumes mounted, and they pile up across restarts).
	MountsUnder string
	// LogFile, when set, receives stdout and stderr (append:), the drain
	// helper's lines included.
	LogFile string
	// DrainTimeout is how long landing or retiring may take before the
	// worker gets SIGTERM; default DefaultDrainTimeout.
	DrainTimeout time.Duration
	// StopGrace is how long the worker may take to exit after SIGTERM
	// before SIGKILL; default DefaultStopGrace.
	StopGrace    time.Duration
	RestartDelay time.Duration // default DefaultRestartDelay
	WantedBy     string        // default DefaultWantedBy
}

// Render validates the unit and renders its file; every bad field is
// reported at once, as *ValidationError values joined.
func (w WorkerUnit) Render() (UnitFile, error) {
	s := service{
		kind: "WorkerUnit", unit: w.Unit, name: WorkerUnitName,
		description:   orDefault(w.Description, "Concourse CI worker of "+w.Unit.String()),
		documentation: "https://concourse-ci.org/concourse-worker.html",
		command:       w.Command, envFile: w.EnvironmentFile, workDir: w.WorkDir, logFile: w.LogFile,
		restartDelay: w.RestartDelay, wantedBy: w.WantedBy,
	}
	drain := orDefault(w.DrainTimeout, DefaultDrainTimeout)
	grace := orDefault(w.StopGrace, DefaultStopGrace)
	return s.render(func(o *options) {
		// Every stop (and restart) follows Concourse: the helper sends the
		// drain signal to $MAINPID, waits up to the drain timeout, sends
		// SIGTERM, waits the grace, sends SIGKILL, and records how it ended.
		// systemd's own sequence (KillSignal, TimeoutStopSec) is only the
		// backstop for a helper that cannot run. KillMode=mixed: signals go
		// to the main process only, never to build processes in its
		// containers (SIGUSR1's default action kills them); whatever is left
		// in the cgroup at the end gets SIGKILL.
		if w.DrainTimeout < 0 {
			o.fail("DrainTimeout", fmt.Sprintf("must be positive, got %v", w.DrainTimeout))
		}
		if w.StopGrace < 0 {
			o.fail("StopGrace", fmt.Sprintf("must be positive, got %v", w.StopGrace))
		}
		stateDir := drainStateDir(s.name(w.Unit))
		o.exec("Service", "ExecStop", "DrainHelper", helperArgv(w.DrainHelper,
			"--timeout="+systemdDuration(drain), "--grace="+systemdDuration(grace), "--state-dir="+stateDir))
		if w.MountsUnder != "" {
			if err := checkPath(o.field("MountsUnder"), w.MountsUnder); err != nil {
				o.check(err)
			} else {
				o.exec("Service", "ExecStopPost", "DrainHelper", helperArgv(w.DrainHelper, "--unmount-under="+w.MountsUnder))
			}
		}
		o.fixed("Service", "KillMode", "mixed")
		o.fixed("Service", "KillSignal", unix.SignalName(syscall.SIGTERM))
		o.duration("Service", "TimeoutStopSec", "DrainTimeout", drain+grace+helperMargin)
		o.fixed("Service", "SendSIGKILL", "yes")
		o.fixed("Service", "FinalKillSignal", "SIGKILL")

		// Containers: the worker manages its own cgroups and may run many
		// processes and files.
		o.fixed("Service", "Delegate", "yes")
		o.fixed("Service", "TasksMax", "infinity")
		o.fixed("Service", "LimitNOFILE", "1048576")
		o.fixed("Service", "LimitNPROC", "infinity")
	})
}

// helperArgv appends flags to the helper's argv prefix; an empty prefix
// stays empty so that validation names the field.
func helperArgv(prefix []string, flags ...string) []string {
	if len(prefix) == 0 {
		return nil
	}
	return append(append([]string(nil), prefix...), flags...)
}
