package services

import (
	"io"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/unit"
	"golang.org/x/sys/unix"
)

// WorkerUnitName is the unit that runs `concourse worker`.
const WorkerUnitName = "concourse-worker.service"

// How `concourse worker` drains, from Concourse's source
// (github.com/concourse/concourse, worker/drain/signals_unix.go and
// worker/drain/runner.go): SIGUSR1 lands the worker (it stays registered,
// takes no new work and lets running builds finish, keeping its volumes),
// SIGUSR2 retires it (the same, then the ATC forgets it and its volumes).
// Once the TSA reports the worker landed or retired, the registration
// process exits via the SSH gateway and worker/beacon_runner.go stops the
// restarter ("registration process exited via SSH gateway"), so the whole
// `concourse worker` process exits by itself: systemd sees a clean stop.
// See also concourse/concourse#2757 ("Landing (SIGUSR1) will let you keep the
// volumes and containers"; retire only when the host goes away for good).
const (
	LandSignal   = syscall.SIGUSR1
	RetireSignal = syscall.SIGUSR2
)

// DefaultDrainTimeout is how long a stopping worker may take to land before
// systemd kills it: running builds get this long to finish.
const DefaultDrainTimeout = 10 * time.Minute

// WorkerUnit describes the Concourse worker service. It runs as root:
// the worker creates containers (cgroups, mounts, network namespaces), so
// none of the web unit's hardening applies.
type WorkerUnit struct {
	Name        string // default WorkerUnitName
	Description string // default "Concourse CI worker"
	// Command is the argv, e.g. {"/srv/concourse/current/bin/concourse", "worker"}.
	Command []string
	// EnvironmentFile holds CONCOURSE_* settings and keys (optional).
	EnvironmentFile string
	// WorkDir is the working directory, usually the unit's own worker dir.
	WorkDir string
	// LogFile, when set, receives stdout and stderr (append:).
	LogFile string
	// DrainTimeout is how long stopping (landing) or retiring may take
	// before systemd kills the worker; default DefaultDrainTimeout.
	DrainTimeout time.Duration
	RestartDelay time.Duration // default DefaultRestartDelay
	WantedBy     string        // default DefaultWantedBy
}

// Options validates the unit and returns its options for unit.Serialize.
func (w WorkerUnit) Options() ([]*unit.UnitOption, error) {
	return w.build().validated()
}

// Render validates the unit and renders its file.
func (w WorkerUnit) Render() (UnitFile, error) {
	o := w.build()
	return o.render(orDefault(w.Name, WorkerUnitName))
}

func (w WorkerUnit) build() *options {
	o := &options{}
	o.check(checkUnitName("WorkerUnit.Name", orDefault(w.Name, WorkerUnitName)))
	o.text("Unit", "Description", "WorkerUnit.Description", orDefault(w.Description, "Concourse CI worker"))
	o.fixed("Unit", "Documentation", "https://concourse-ci.org/concourse-worker.html")
	o.fixed("Unit", "Wants", "network-online.target")
	o.fixed("Unit", "After", "network-online.target")

	o.fixed("Service", "Type", "exec")
	o.exec("Service", "ExecStart", "WorkerUnit.Command", w.Command)
	if w.EnvironmentFile != "" {
		o.path("Service", "EnvironmentFile", "WorkerUnit.EnvironmentFile", "", w.EnvironmentFile)
	}
	if w.WorkDir != "" {
		o.path("Service", "WorkingDirectory", "WorkerUnit.WorkDir", "", w.WorkDir)
	}
	if w.LogFile != "" {
		o.path("Service", "StandardOutput", "WorkerUnit.LogFile", "append:", w.LogFile)
		o.path("Service", "StandardError", "WorkerUnit.LogFile", "append:", w.LogFile)
	}
	o.fixed("Service", "Restart", "on-failure")
	o.duration("Service", "RestartSec", "WorkerUnit.RestartDelay", orDefault(w.RestartDelay, DefaultRestartDelay))

	// Drain on every stop (and restart: RestartKillSignal defaults to
	// KillSignal). KillMode=mixed sends the land signal to the main process
	// only: build processes in its containers must not get SIGUSR1, whose
	// default action kills them. The main process exits once landed; at
	// TimeoutStopSec systemd gives up and SIGKILLs everything left in the
	// cgroup, so builds get exactly the drain timeout.
	o.fixed("Service", "KillMode", "mixed")
	o.fixed("Service", "KillSignal", unix.SignalName(LandSignal))
	o.duration("Service", "TimeoutStopSec", "WorkerUnit.DrainTimeout", orDefault(w.DrainTimeout, DefaultDrainTimeout))
	o.fixed("Service", "SendSIGKILL", "yes")
	o.fixed("Service", "FinalKillSignal", "SIGKILL")

	// Containers: the worker manages its own cgroups and may run many
	// processes and files.
	o.fixed("Service", "Delegate", "yes")
	o.fixed("Service", "TasksMax", "infinity")
	o.fixed("Service", "LimitNOFILE", "1048576")
	o.fixed("Service", "LimitNPROC", "infinity")

	o.target("Install", "WantedBy", "WorkerUnit.WantedBy", orDefault(w.WantedBy, DefaultWantedBy))
	return o
}

// retireDropIn is the drop-in Retire installs for the duration of one stop:
// the same stop path, but with the retire signal.
func retireDropIn() []byte {
	opts := []*unit.UnitOption{unit.NewUnitOption("Service", "KillSignal", unix.SignalName(RetireSignal))}
	b, _ := io.ReadAll(unit.Serialize(opts)) // a bytes.Buffer: reading never fails
	return b
}
