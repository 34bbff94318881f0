package fsm

import (
	"fmt"

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

// InstallTable is the single definition of the install machine.
func InstallTable() Table {
	return Table{
		Machine: "install",
		Initial: InstallAbsent,
		States: []State{
			{
				Name:      InstallAbsent,
				Meaning:   "This unit wants release V and has not yet looked at the shared volume under its lock.",
				WhenStuck: "Check that the shared volume is mounted and writable on this unit (`concourse-ci-machine inspect /var/lib/concourse` shows what the unit sees).",
			},
			{
				Name:      InstallWaiting,
				Meaning:   "Another unit holds the volume lock (it is downloading or switching releases); this unit looks again every 10 to 100 ms (jittered), and without the lock first, so it finishes within moments of the release being in place. A hook waits at most 10 minutes, then reports that it still waits and ends; its next hook looks again.",
				WhenStuck: "If the status says the lock is stuck, the holder's process is alive but makes no progress: look at that unit's log and restart its agent; the lock is never stolen while its holder lives.",
			},
			{
				Name:      InstallDownloading,
				Meaning:   "This unit holds the volume lock, has written the in-progress marker and is downloading and unpacking V into a private partial directory.",
				WhenStuck: "The status shows the download's progress. If it does not move, the unit cannot reach the release URL (`juju model-config juju-http-proxy=...` for a proxy) or the server is slow: attach the release as a resource instead (`juju attach-resource APP concourse-release=./concourse-V-linux-amd64.tgz`). If the unit died, the next lock holder cleans its partial data and starts over.",
			},
			{
				Name:      InstallVerifying,
				Meaning:   "The download finished; its checksum, the archive's contents and `concourse --version` are being checked before the release becomes visible.",
				WhenStuck: "Verification runs `concourse --version` with a timeout; if it hangs, the binary does not run on this machine (wrong architecture or missing libraries).",
			},
			{
				Name:      InstallInstalled,
				Meaning:   "releases/V is complete on the shared volume (and `current` points at it when the install activates).",
				WhenStuck: "Nothing to do: this is the resting state.",
			},
			{
				Name:      InstallFailed,
				Meaning:   "The install stopped with an error; partial data was removed and `current` was left untouched.",
				WhenStuck: "Fix what the status names (free space on the volume or `release-space`, `release-sha256`, the release URL or resource); the next hook retries by itself (update-status at the latest).",
			},
		},
		Transitions: []Transition{
			{
				Event:  InstallLockBusy,
				From:   []string{InstallAbsent, InstallWaiting},
				To:     InstallWaiting,
				Who:    AnyUnit,
				Effect: "None: the unit reports who holds the lock and since when, and tries again after a backoff.",
			},
			{
				Event:  InstallLockAcquired,
				From:   []string{InstallAbsent, InstallWaiting},
				To:     InstallDownloading,
				Who:    LockHolder,
				Effect: "Writes the in-progress marker (.download_in_progress) and starts the download into releases/V.partial-*.",
			},
			{
				Event:  InstallFoundInstalled,
				From:   []string{InstallAbsent, InstallWaiting},
				To:     InstallInstalled,
				Who:    LockHolder,
				Effect: "None on the network: releases/V is complete (seen without the lock while waiting, or in the double-check under it), so the unit reuses it (and switches `current` when activating).",
			},
			{
				Event:  InstallDownloaded,
				From:   []string{InstallDownloading},
				To:     InstallVerifying,
				Who:    LockHolder,
				Effect: "None yet: the bytes are unpacked in the partial directory, invisible to other units.",
			},
			{
				Event:  InstallVerified,
				From:   []string{InstallVerifying},
				To:     InstallInstalled,
				Who:    LockHolder,
				Effect: "Renames the partial directory to releases/V, switches `current` and writes .installed_version when activating, clears the marker, prunes old releases and releases the lock.",
			},
			{
				Event:  InstallFail,
				From:   []string{InstallAbsent, InstallWaiting, InstallDownloading, InstallVerifying},
				To:     InstallFailed,
				Who:    AnyUnit,
				Effect: "Removes the partial directory and the in-progress marker, leaves `current` untouched and releases the lock.",
			},
			{
				Event:  InstallRetry,
				From:   []string{InstallFailed},
				To:     InstallAbsent,
				Who:    AnyUnit,
				Effect: "None: the next attempt starts from the double-check under the lock.",
			},
		},
	}
}

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
	return &InstallMachine{table: t, fsm: t.machine(t.Initial), onStep: onStep}
}

// Current returns the current state.
func (m *InstallMachine) Current() string { return m.fsm.Current() }

// Fire takes event from the current state. An event the table does not allow
// returns *InvalidEventError and leaves the state unchanged.
func (m *InstallMachine) Fire(event string) error {
	from := m.fsm.Current()
	if err := fire(m.table, m.fsm, event); err != nil {
		return err
	}
	if m.onStep != nil {
		m.onStep(InstallStep{From: from, To: m.fsm.Current(), Event: event})
	}
	return nil
}
