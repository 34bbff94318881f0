package fsm

import (
	"context"
	"time"
)

// The steps carried out: what any hook does with a record, in Juju's uniter
// order (decide, act, confirm). The charm and the multi-unit models call
// these rather than pairing the pure steps with Execute themselves.

// RunUnitStep decides this unit's step and carries it out against target.
// It returns the ack to write: the step's ack when the effects succeeded,
// or one naming the failure (ack.Error set) that the next hook retries. An
// error means the record's phase is unknown, and nothing ran.
func RunUnitStep(ctx context.Context, target Effects, rec Record, own Ack) (Ack, error) {
	next, effects, err := UnitStep(rec, own)
	if err != nil {
		return own, err
	}
	if err := Execute(ctx, target, effects); err != nil {
		return UnitFailed(rec, own, err), nil
	}
	return next, nil
}

// RunLeaderStep decides the leader's step, carries out its effects against
// target and, in DOWNLOADING, confirms the switch's result in the record.
// On an error the hook must fail so Juju drops its writes; rec is returned.
func RunLeaderStep(ctx context.Context, target Effects, now time.Time, rec Record, acks map[string]Ack, units []string) (Record, error) {
	next, effects, err := LeaderStep(now, rec, acks, units)
	if err != nil {
		return rec, err
	}
	actErr := Execute(ctx, target, effects)
	if next.Phase != PhaseDownloading {
		if actErr != nil {
			return rec, actErr
		}
		return next, nil
	}
	confirmed, effects, err := ConfirmSwitch(next, next.Generation, actErr)
	if err != nil {
		return rec, err
	}
	if err := Execute(ctx, target, effects); err != nil {
		return rec, err
	}
	return confirmed, nil
}
