package fsm

// The unit side of the upgrade. Every unit, the leader's own unit included,
// reads the record and acts for itself; it answers with an Ack in its own
// bag. Nothing here returns a Record, so a unit cannot write the leader's.

// UnitStep says what this unit must do for the record it sees, given its own
// last ack: the ack to write once the effects succeeded, and the effects.
// When the ack already answers the record, it returns own and no effects.
func UnitStep(rec Record, own Ack) (Ack, []Effect, error) {
	switch rec.Phase {
	case PhasePrepare, PhaseDownloading:
		want := Ack{Generation: rec.Generation, ReadyForDownload: true}
		if own == want {
			return own, nil, nil
		}
		if _, err := fireUpgrade(rec.Phase, UpgradeWorkerStopped); err != nil {
			return own, nil, err
		}
		return want, []Effect{{Kind: StopWorker}}, nil
	case PhaseComplete:
		return startOn(rec, own, rec.TargetVersion, true)
	case PhaseFailed:
		return startOn(rec, own, rec.PreviousVersion, false)
	case PhaseIdle:
		if rec.Version == "" {
			// Nothing settled yet: the install, not the upgrade, starts workers.
			return own, nil, nil
		}
		return startOn(rec, own, rec.Version, false)
	}
	_, err := fireUpgrade(rec.Phase, UpgradeWorkerStarted)
	return own, nil, err
}

// UnitFailed is the ack to write when UnitStep's effects failed: it names
// the generation and the error, claims nothing, and makes the next UnitStep
// try again. The leader shows the error while it waits.
func UnitFailed(rec Record, own Ack, err error) Ack {
	if err == nil {
		return own
	}
	return Ack{Generation: rec.Generation, Error: err.Error()}
}

// startOn makes sure the unit's worker runs version: `current` first (a
// no-op on a shared volume, the switch itself on a unit-local one), then the
// worker, then the web server when the release changed under it.
func startOn(rec Record, own Ack, version string, restartWeb bool) (Ack, []Effect, error) {
	want := Ack{Generation: rec.Generation, RunningVersion: version}
	if own == want {
		return own, nil, nil
	}
	if _, err := fireUpgrade(rec.Phase, UpgradeWorkerStarted); err != nil {
		return own, nil, err
	}
	effects := []Effect{{Kind: SwitchRelease, Version: version}, {Kind: StartWorker, Version: version}}
	if restartWeb {
		effects = append(effects, Effect{Kind: RestartWeb, Version: version})
	}
	return want, effects, nil
}
