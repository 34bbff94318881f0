package fsm

import (
	"errors"
	"fmt"
	"strings"

	lfsm "github.com/looplab/fsm"
)

// The install machine: one unit's attempt to have Concourse version V on the
// shared volume. Exactly one unit (the lock holder) downloads; the others wait
// and then find the release already there.

// Install machine states.
const (
	InstallAbsent      = "absent"
	InstallWaiting     = "waiting"
	InstallDownloading = "downloading"
	InstallVerifying   = "verifying"
	InstallInstalled   = "installed"
	InstallFailed      = "failed"
)

// Install machine events.
const (
	InstallLockBusy       = "lock-busy"
	InstallLockAcquired   = "lock-acquired"
	InstallFoundInstalled = "found-installed"
	InstallDownloaded     = "downloaded"
	InstallVerified       = "verified"
	InstallFail           = "fail"
	InstallRetry          = "retry"
)

// installHooks lists the hooks and actions that run an install: the charm
// installs on deploy, on a version change, and when a waiting unit polls again.
func installHooks() []string {
	return []string{"install", "config-changed", "upgrade-charm", "update-status", "upgrade action"}
}

// InstallTable is the single definition of the install machine.
func InstallTable() Table {
	return Table{
		Machine: "install",
		Initial: InstallAbsent,
		States: []State{
			{
				Name:      InstallAbsent,
				Meaning:   "This unit wants release V and has not yet looked at the shared volume under its lock.",
				Status:    "maintenance: Preparing to install Concourse V",
				WhenStuck: "Check that the shared volume is mounted and writable on this unit (`concourse-ci-machine inspect --volume DIR`).",
			},
			{
				Name:      InstallWaiting,
				Meaning:   "Another unit holds the volume lock (it is downloading or switching releases); this unit polls again with backoff (5 s, 10 s, then every 20 s).",
				Status:    "waiting: Waiting for Concourse V (downloading on UNIT for DURATION)",
				WhenStuck: "If the status says the lock is stuck, the holder's process is alive but makes no progress: look at that unit's log and restart its agent; the lock is never stolen while its holder lives.",
			},
			{
				Name:      InstallDownloading,
				Meaning:   "This unit holds the volume lock, has written the in-progress marker and is downloading and unpacking V into a private partial directory.",
				Status:    "maintenance: Downloading Concourse V: PCT% (DONE/TOTAL MB)",
				WhenStuck: "Check the unit's network path to the release URL (proxy settings juju-http-proxy/juju-https-proxy) or attach the release as a resource; if the unit died, the next lock holder cleans its partial data and starts over.",
			},
			{
				Name:      InstallVerifying,
				Meaning:   "The download finished; its checksum, the archive's contents and `concourse --version` are being checked before the release becomes visible.",
				Status:    "maintenance: Verifying Concourse V",
				WhenStuck: "Verification runs `concourse --version` with a timeout; if it hangs, the binary does not run on this machine (wrong architecture or missing libraries).",
			},
			{
				Name:      InstallInstalled,
				Meaning:   "releases/V is complete on the shared volume (and `current` points at it when the install activates).",
				Status:    "active: Concourse V installed",
				WhenStuck: "Nothing to do: this is the resting state.",
			},
			{
				Name:      InstallFailed,
				Meaning:   "The install stopped with an error; partial data was removed and `current` was left untouched.",
				Status:    "blocked: Installing Concourse V failed: ERROR",
				WhenStuck: "Fix what the error names (free space on the volume, release-sha256, the release URL or resource), then run `juju resolve` or change the version; the next hook retries.",
			},
		},
		Transitions: []Transition{
			{
				Event:  InstallLockBusy,
				From:   []string{InstallAbsent, InstallWaiting},
				To:     InstallWaiting,
				Who:    AnyUnit,
				Hooks:  installHooks(),
				Effect: "None: the unit reports who holds the lock and since when, and tries again after a backoff.",
			},
			{
				Event:  InstallLockAcquired,
				From:   []string{InstallAbsent, InstallWaiting},
				To:     InstallDownloading,
				Who:    LockHolder,
				Hooks:  installHooks(),
				Effect: "Writes the in-progress marker (.download_in_progress) and starts the download into releases/V.partial-*.",
			},
			{
				Event:  InstallFoundInstalled,
				From:   []string{InstallAbsent, InstallWaiting},
				To:     InstallInstalled,
				Who:    LockHolder,
				Hooks:  installHooks(),
				Effect: "None on the network: the double-check under the lock found releases/V complete, so the unit reuses it (and switches `current` when activating).",
			},
			{
				Event:  InstallDownloaded,
				From:   []string{InstallDownloading},
				To:     InstallVerifying,
				Who:    LockHolder,
				Hooks:  installHooks(),
				Effect: "None yet: the bytes are unpacked in the partial directory, invisible to other units.",
			},
			{
				Event:  InstallVerified,
				From:   []string{InstallVerifying},
				To:     InstallInstalled,
				Who:    LockHolder,
				Hooks:  installHooks(),
				Effect: "Renames the partial directory to releases/V, switches `current` and writes .installed_version when activating, clears the marker, prunes old releases and releases the lock.",
			},
			{
				Event:  InstallFail,
				From:   []string{InstallAbsent, InstallWaiting, InstallDownloading, InstallVerifying},
				To:     InstallFailed,
				Who:    AnyUnit,
				Hooks:  installHooks(),
				Effect: "Removes the partial directory and the in-progress marker, leaves `current` untouched and releases the lock.",
			},
			{
				Event:  InstallRetry,
				From:   []string{InstallFailed},
				To:     InstallAbsent,
				Who:    AnyUnit,
				Hooks:  []string{"config-changed", "update-status", "upgrade action"},
				Effect: "None: the next attempt starts from the double-check under the lock.",
			},
		},
	}
}

// ErrInvalidInstallEvent is matched (errors.Is) by every InvalidInstallEventError.
var ErrInvalidInstallEvent = errors.New("event not allowed in this install state")

// InvalidInstallEventError reports an event the install table does not allow
// from the current state. The machine's state is unchanged.
type InvalidInstallEventError struct {
	State string
	Event string
	// Allowed lists the events the table accepts from State, sorted.
	Allowed []string
}

func (e *InvalidInstallEventError) Error() string {
	return fmt.Sprintf("install machine: event %q is not allowed in state %q (allowed: %s); the state is unchanged",
		e.Event, e.State, strings.Join(e.Allowed, ", "))
}

// Is lets errors.Is(err, ErrInvalidInstallEvent) hold.
func (e *InvalidInstallEventError) Is(target error) bool { return target == ErrInvalidInstallEvent }

// InstallStep is one transition the install machine took.
type InstallStep struct {
	From, To, Event string
}

func (s InstallStep) String() string {
	return fmt.Sprintf("%s -> %s (%s)", s.From, s.To, s.Event)
}

// InstallMachine is one unit's install run, driven by the install table
// through looplab/fsm. It is not meant for concurrent use.
type InstallMachine struct {
	table  Table
	fsm    *lfsm.FSM
	onStep func(InstallStep)
}

// NewInstallMachine starts a machine in the table's initial state. onStep,
// when not nil, is called after every transition taken (including a
// self-transition such as a repeated lock-busy).
func NewInstallMachine(onStep func(InstallStep)) *InstallMachine {
	t := InstallTable()
	return &InstallMachine{table: t, fsm: lfsm.NewFSM(t.Initial, t.Events(), nil), onStep: onStep}
}

// Current returns the current state.
func (m *InstallMachine) Current() string { return m.fsm.Current() }

// Fire takes event from the current state. An event the table does not allow
// returns *InvalidInstallEventError and leaves the state unchanged.
func (m *InstallMachine) Fire(event string) error {
	from := m.fsm.Current()
	switch refused, err := fire(m.fsm, event); {
	case refused:
		return &InvalidInstallEventError{State: from, Event: event, Allowed: m.allowedFrom(from)}
	case err != nil:
		return fmt.Errorf("install machine: event %q from %q: %w", event, from, err)
	}
	if m.onStep != nil {
		m.onStep(InstallStep{From: from, To: m.fsm.Current(), Event: event})
	}
	return nil
}

// allowedFrom lists the events the table accepts from state, or "none".
func (m *InstallMachine) allowedFrom(state string) []string {
	allowed := m.table.Allowed(state)
	if len(allowed) == 0 {
		allowed = []string{"none"}
	}
	return allowed
}
