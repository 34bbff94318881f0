package fsm

// The upgrade machine: one generation of a cluster-wide upgrade from the
// settled release to a target release, persisted in the peer relation. The
// leader owns the phase (application bag); every unit acknowledges in its own
// unit bag. Leader events move the phase; unit events are self-transitions
// that document what a unit does for itself while the phase stays put.

// Upgrade events. Leader events change the record; unit events never do.
const (
	UpgradeInitiate         = "initiate"
	UpgradeWorkersReady     = "workers-ready"
	UpgradeDownloadVerified = "download-verified"
	UpgradeDownloadFailed   = "download-failed"
	UpgradeFinish           = "finish"
	UpgradeAbort            = "abort"
	UpgradeRetry            = "retry"
	UpgradeRollback         = "rollback"
	UpgradeWorkerStopped    = "worker-stopped"
	UpgradeWorkerStarted    = "worker-started"
)

// Operator actions, as the charm names them in actions.yaml.
const (
	ActionUpgrade         = "upgrade"
	ActionUpgradeRetry    = "upgrade-retry"
	ActionUpgradeRollback = "upgrade-rollback"
	ActionUpgradeAbort    = "upgrade-abort"
)

// leaderHooks are the hooks in which the leader notices a unit's ack or a
// passed deadline (a new leader notices them in leader-elected).
func leaderHooks() []string {
	return []string{"relation-changed", "update-status", "leader-elected"}
}

// unitHooks are the hooks in which a unit notices the leader's new record.
func unitHooks() []string {
	return []string{"relation-changed", "update-status"}
}

// UpgradeTable is the single definition of the upgrade machine. Status and
// WhenStuck texts are templates: StatusOf fills in the capitalised words
// (APP, TARGET, PREVIOUS, VERSION, GENERATION, DEADLINE, WAITING, ERROR).
func UpgradeTable() Table {
	return Table{
		Machine: "upgrade",
		Initial: PhaseIdle.String(),
		States: []State{
			{
				Name:      PhaseIdle.String(),
				Meaning:   "No upgrade is under way: every worker runs the settled release VERSION from `current` on the shared volume. After an abort or rollback the record keeps the reason.",
				Status:    "active: Concourse VERSION. To upgrade: juju run APP/leader upgrade version=V",
				WhenStuck: "Nothing to do: this is the resting state. If the status shows the last upgrade was aborted or rolled back, fix the cause it names before running `juju run APP/leader upgrade version=V` again. A unit whose ack shows an error retries on its next hook (update-status at the latest); `juju debug-log --include UNIT` says why it failed.",
			},
			{
				Name:      PhasePrepare.String(),
				Meaning:   "Generation GENERATION is upgrading from PREVIOUS to TARGET: every unit drains and stops its worker and acks ready-for-download; the leader waits for all of them, but only until the deadline.",
				Status:    "maintenance: Upgrade to TARGET: waiting for workers to drain and stop (WAITING); aborts at DEADLINE. To stop now: juju run APP/leader upgrade-abort",
				WhenStuck: "The status names the units that have not stopped yet. A long build keeps a draining worker busy: wait, or abort with `juju run APP/leader upgrade-abort` (workers start again on PREVIOUS). A unit that is gone for good: `juju remove-unit UNIT` (departed units are not waited for). Past DEADLINE the leader aborts by itself on its next hook (update-status at the latest).",
			},
			{
				Name:      PhaseDownloading.String(),
				Meaning:   "All workers are stopped: the leader points `current` at releases/TARGET (downloading it first unless it was staged before PREPARE) and verifies `concourse --version`.",
				Status:    "maintenance: Upgrade to TARGET: switching the shared release (workers stopped)",
				WhenStuck: "The leader's hook keeps failing before it can record a result: read `juju debug-log --include APP/leader`. `juju run APP/leader upgrade-abort` points `current` back at PREVIOUS and starts the workers again.",
			},
			{
				Name:      PhaseComplete.String(),
				Meaning:   "releases/TARGET is in place: each unit starts its worker on TARGET (web units restart concourse-server) and acks running-version; the leader settles on TARGET once all have.",
				Status:    "maintenance: Upgrade to TARGET: starting workers on the new release (WAITING)",
				WhenStuck: "The status names the units that do not run TARGET yet, with their error. `juju debug-log --include UNIT` says why (often `concourse --version` failing on that machine). Fix it: the unit retries on its next hook (update-status at the latest). A unit that is gone for good: `juju remove-unit UNIT`. There is no rollback from here: the new web may already have migrated the database.",
			},
			{
				Name:      PhaseFailed.String(),
				Meaning:   "Switching to TARGET failed: `current` points back at PREVIOUS and every worker runs PREVIOUS again. The leader waits for the operator.",
				Status:    "blocked: Upgrade to TARGET failed: ERROR. Run: juju run APP/leader upgrade-retry (or upgrade-rollback)",
				WhenStuck: "It waits for you. Fix what ERROR names (network to the release URL, space on the volume, a corrupt download), then `juju run APP/leader upgrade-retry`; or give up with `juju run APP/leader upgrade-rollback`.",
			},
		},
		Transitions: []Transition{
			{
				Event:  UpgradeInitiate,
				From:   []string{PhaseIdle.String()},
				To:     PhasePrepare.String(),
				Who:    Leader,
				Hooks:  []string{"upgrade action"},
				Effect: "Before recording, the leader stages releases/TARGET on the volume (`current` and every service untouched), so worker downtime does not grow with the release size. Records a new generation with a deadline; nothing stops yet.",
			},
			{
				Event:  UpgradeWorkerStopped,
				From:   []string{PhasePrepare.String()},
				To:     PhasePrepare.String(),
				Who:    AnyUnit,
				Hooks:  unitHooks(),
				Effect: "The unit drains and stops concourse-worker.service, then acks ready-for-download for this generation in its own unit bag. concourse-server.service keeps running.",
			},
			{
				Event:  UpgradeWorkersReady,
				From:   []string{PhasePrepare.String()},
				To:     PhaseDownloading.String(),
				Who:    Leader,
				Hooks:  leaderHooks(),
				Effect: "Every unit acked this generation: the leader points `current` at releases/TARGET (downloading it only if it was not staged) and verifies the binary.",
			},
			{
				Event:  UpgradeWorkerStopped,
				From:   []string{PhaseDownloading.String()},
				To:     PhaseDownloading.String(),
				Who:    AnyUnit,
				Hooks:  unitHooks(),
				Effect: "A unit that has not acked yet (one that joined late) drains and stops its worker too, so no worker runs while `current` moves.",
			},
			{
				Event:  UpgradeDownloadVerified,
				From:   []string{PhaseDownloading.String()},
				To:     PhaseComplete.String(),
				Who:    Leader,
				Hooks:  leaderHooks(),
				Effect: "`current` points at a verified releases/TARGET. Nothing restarts in this step: each unit does that itself next.",
			},
			{
				Event:  UpgradeDownloadFailed,
				From:   []string{PhaseDownloading.String()},
				To:     PhaseFailed.String(),
				Who:    Leader,
				Hooks:  leaderHooks(),
				Effect: "The leader points `current` back at releases/PREVIOUS and records the error.",
			},
			{
				Event:  UpgradeWorkerStarted,
				From:   []string{PhaseComplete.String()},
				To:     PhaseComplete.String(),
				Who:    AnyUnit,
				Hooks:  unitHooks(),
				Effect: "The unit makes sure `current` is releases/TARGET (a no-op on a shared volume), starts concourse-worker.service on it, restarts concourse-server.service on web units and acks running-version TARGET.",
			},
			{
				Event:  UpgradeFinish,
				From:   []string{PhaseComplete.String()},
				To:     PhaseIdle.String(),
				Who:    Leader,
				Hooks:  leaderHooks(),
				Effect: "Every unit runs TARGET: the leader records TARGET as the settled version. No unit or file changes.",
			},
			{
				Event:  UpgradeAbort,
				From:   []string{PhasePrepare.String(), PhaseDownloading.String()},
				To:     PhaseIdle.String(),
				Who:    Leader,
				Hooks:  []string{"upgrade-abort action", "update-status (deadline)", "relation-changed (deadline)", "leader-elected (deadline)"},
				Effect: "The leader points `current` back at releases/PREVIOUS and records the reason; every unit then starts its worker on PREVIOUS again.",
			},
			{
				Event:  UpgradeWorkerStarted,
				From:   []string{PhaseFailed.String()},
				To:     PhaseFailed.String(),
				Who:    AnyUnit,
				Hooks:  unitHooks(),
				Effect: "The unit makes sure `current` is releases/PREVIOUS and starts concourse-worker.service on it, so the cluster keeps building while the operator decides.",
			},
			{
				Event:  UpgradeRetry,
				From:   []string{PhaseFailed.String()},
				To:     PhasePrepare.String(),
				Who:    Leader,
				Hooks:  []string{"upgrade-retry action"},
				Effect: "Starts a new generation with a new deadline (staging TARGET again first): workers drain and stop again before `current` moves.",
			},
			{
				Event:  UpgradeRollback,
				From:   []string{PhaseFailed.String()},
				To:     PhaseIdle.String(),
				Who:    Leader,
				Hooks:  []string{"upgrade-rollback action"},
				Effect: "Gives up on TARGET: `current` stays at releases/PREVIOUS, which becomes the settled version again; the staged release is left on the volume, unused.",
			},
			{
				Event:  UpgradeWorkerStarted,
				From:   []string{PhaseIdle.String()},
				To:     PhaseIdle.String(),
				Who:    AnyUnit,
				Hooks:  unitHooks(),
				Effect: "After an abort or rollback (or when a unit joins), the unit makes sure `current` is releases/VERSION, starts its worker on it and acks running-version VERSION.",
			},
		},
	}
}
