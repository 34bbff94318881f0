package fsm

// The upgrade machine: one generation of a cluster-wide upgrade from the
// settled release to a target release, persisted in the peer relation. The
// leader owns the phase (application bag); every unit reports in its own
// unit bag. Leader events move the phase; unit events are self-transitions
// that document what a unit does for itself while the phase stays put.
//
// Every unit acts only on a record Juju has committed, and what it does is a
// pure function of that record (see Wanted): a hook that is cut off, or a
// leader that loses leadership in the middle of a hook, leaves nothing that
// the committed record does not allow.

// Upgrade events. Leader events change the record; unit events never do.
const (
	UpgradeInitiate         = "initiate"
	UpgradeWorkerStopped    = "worker-stopped"
	UpgradeWorkersReady     = "workers-ready"
	UpgradeReleaseStaged    = "release-staged"
	UpgradeDownloadVerified = "download-verified"
	UpgradeDownloadFailed   = "download-failed"
	UpgradeWorkerStarted    = "worker-started"
	UpgradeFinish           = "finish"
	UpgradeAbort            = "abort"
	UpgradeRetry            = "retry"
	UpgradeRollback         = "rollback"
)

// UpgradeTable is the single definition of the upgrade machine. Its texts
// use capitalised words for values: APP, TARGET, PREVIOUS, VERSION.
func UpgradeTable() Table {
	return Table{
		Machine: "upgrade",
		Initial: PhaseIdle.String(),
		States: []State{
			{
				Name:      PhaseIdle.String(),
				Meaning:   "No upgrade is under way: every unit runs the settled release VERSION, its services pinned to the immutable releases/VERSION directory. After an abort or rollback the record keeps the reason.",
				WhenStuck: "Nothing to do: this is the resting state. If the status says the last upgrade was aborted or rolled back, fix the cause it names before `juju run APP/leader upgrade version=V` again. A unit that reports an error retries on its next hook (update-status at the latest); `juju debug-log --include UNIT` says why.",
			},
			{
				Name:      PhasePrepare.String(),
				Meaning:   "An upgrade from PREVIOUS to TARGET has started: every unit drains, stops and disables its worker and reports it; web keeps running PREVIOUS. The leader waits for every member, until the prepare timeout passes on its own clock.",
				WhenStuck: "The status names the units that have not stopped yet. A long build keeps a draining worker busy: wait, or `juju run APP/leader upgrade-abort` (workers start again on PREVIOUS). A unit that is gone for good: `juju remove-unit UNIT` (departed units are not waited for). Once the prepare timeout has passed the leader aborts by itself on its next hook.",
			},
			{
				Name:      PhaseDownloading.String(),
				Meaning:   "All workers are stopped: every unit makes sure releases/TARGET is downloaded (once per shared volume) and verified, and the leader points the volume's `current` at it, fenced by the record's revision.",
				WhenStuck: "The status names the units that have not reported TARGET ready. A unit that cannot download or verify TARGET reports its error and the leader records the upgrade as failed. `juju run APP/leader upgrade-abort` gives up: workers start again on PREVIOUS.",
			},
			{
				Name:      PhaseComplete.String(),
				Meaning:   "releases/TARGET is ready everywhere: each unit starts its worker on TARGET (web restarts on TARGET) and reports it; the leader settles on TARGET once every member runs it.",
				WhenStuck: "The status names the units that do not run TARGET yet, with their error; `juju debug-log --include UNIT` says why (often `concourse --version` failing on that machine). Fix it: the unit retries on its next hook. There is no way back from here, because web may already have migrated the database: to leave a broken TARGET, `juju run APP/leader upgrade version=V` with a fixed release.",
			},
			{
				Name:      PhaseFailed.String(),
				Meaning:   "Getting TARGET ready failed on some unit: every unit runs PREVIOUS again and `current` names PREVIOUS. Web never ran TARGET. The leader waits for the operator.",
				WhenStuck: "It waits for you. Fix what the error names (network to the release URL, space on the volume, a corrupt download), then `juju run APP/leader upgrade-retry`; or give up with `juju run APP/leader upgrade-rollback`.",
			},
		},
		Transitions: []Transition{
			{
				Event:  UpgradeInitiate,
				From:   []string{PhaseIdle.String(), PhaseComplete.String()},
				To:     PhasePrepare.String(),
				Who:    Leader,
				Action: ActionUpgrade,
				Effect: "Before recording, the leader downloads and verifies releases/TARGET on its volume (`current` and every service untouched): a release that cannot be had stops nothing. Records a new generation. From complete it moves forward to a fixed release; PREVIOUS is then the release web already runs.",
			},
			{
				Event:  UpgradeWorkerStopped,
				From:   []string{PhasePrepare.String()},
				To:     PhasePrepare.String(),
				Who:    AnyUnit,
				Effect: "The unit (a member) downloads TARGET ahead if its volume is not shared (best effort, its worker still running), then drains, stops and disables its worker and reports it stopped for this generation. Web keeps running.",
			},
			{
				Event:  UpgradeWorkersReady,
				From:   []string{PhasePrepare.String()},
				To:     PhaseDownloading.String(),
				Who:    Leader,
				Effect: "Every member reported its worker stopped for this generation: the leader records the phase; nothing moves in this hook.",
			},
			{
				Event:  UpgradeReleaseStaged,
				From:   []string{PhaseDownloading.String()},
				To:     PhaseDownloading.String(),
				Who:    AnyUnit,
				Effect: "The unit makes sure releases/TARGET is on its volume and verified (under the volume lock: one download per shared volume) and reports it ready. The leader, and a unit whose volume is not shared, points `current` at TARGET, fenced by the record's revision.",
			},
			{
				Event:  UpgradeDownloadVerified,
				From:   []string{PhaseDownloading.String()},
				To:     PhaseComplete.String(),
				Who:    Leader,
				Effect: "Every member reported TARGET ready and `current` names it: the leader records the phase. Nothing restarts in this hook: each unit does that when it reads the committed record.",
			},
			{
				Event:  UpgradeDownloadFailed,
				From:   []string{PhaseDownloading.String()},
				To:     PhaseFailed.String(),
				Who:    Leader,
				Effect: "A member reported that it cannot get TARGET ready: the leader records the error. Each unit then starts its worker on PREVIOUS again and the leader points `current` back at it.",
			},
			{
				Event:  UpgradeWorkerStarted,
				From:   []string{PhaseComplete.String()},
				To:     PhaseComplete.String(),
				Who:    AnyUnit,
				Effect: "The unit starts its worker on releases/TARGET, restarts web on it (web units), and reports that it runs TARGET.",
			},
			{
				Event:  UpgradeFinish,
				From:   []string{PhaseComplete.String()},
				To:     PhaseIdle.String(),
				Who:    Leader,
				Effect: "Every member runs TARGET: the leader records TARGET as the settled version. No unit or file changes.",
			},
			{
				Event:  UpgradeAbort,
				From:   []string{PhasePrepare.String(), PhaseDownloading.String()},
				To:     PhaseIdle.String(),
				Who:    Leader,
				Action: ActionUpgradeAbort,
				Effect: "The leader records PREVIOUS as the settled version and the reason (the operator's, or the prepare timeout with the units it waited for). Each unit then starts its worker on PREVIOUS again and the leader points `current` back at it. Always recordable: nothing is undone in the same hook.",
			},
			{
				Event:  UpgradeWorkerStarted,
				From:   []string{PhaseFailed.String()},
				To:     PhaseFailed.String(),
				Who:    AnyUnit,
				Effect: "The unit starts its worker on releases/PREVIOUS again, so the cluster keeps building while the operator decides.",
			},
			{
				Event:  UpgradeRetry,
				From:   []string{PhaseFailed.String()},
				To:     PhasePrepare.String(),
				Who:    Leader,
				Action: ActionUpgradeRetry,
				Effect: "Starts a new generation for the same TARGET (the leader downloads and verifies it first): workers drain and stop again before anything moves.",
			},
			{
				Event:  UpgradeRollback,
				From:   []string{PhaseFailed.String()},
				To:     PhaseIdle.String(),
				Who:    Leader,
				Action: ActionUpgradeRollback,
				Effect: "Gives up on TARGET: PREVIOUS is the settled version again; releases/TARGET stays on the volume until pruned.",
			},
			{
				Event:  UpgradeWorkerStarted,
				From:   []string{PhaseIdle.String()},
				To:     PhaseIdle.String(),
				Who:    AnyUnit,
				Effect: "A member makes sure releases/VERSION is on its volume, records on the volume that its services use it, and runs its worker (and web, on web units) pinned to it.",
			},
		},
	}
}
