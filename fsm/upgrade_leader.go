package fsm

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// The leader side of the upgrade. Every function here is a pure, idempotent
// reconcile step: it takes the persisted record (and the units' acks) and
// returns the next record plus the effects to carry out. The charm follows
// Juju's uniter order: decide (call the function), record (stage the new
// record for the app bag), act (Execute the effects), confirm (ConfirmSwitch
// or the next step). Juju commits relation data only when the hook succeeds,
// so a crash anywhere leaves the last committed record, and running the step
// again from it redoes only idempotent effects.

// DefaultPrepareTimeout bounds PREPARE when the charm's config sets nothing.
const DefaultPrepareTimeout = 10 * time.Minute

// InitiateRequest is what the `upgrade` action asks for.
type InitiateRequest struct {
	Target string
	// Installed is the release on the volume now. It is used only while the
	// record names no settled version (the first upgrade after install).
	Installed string
	// By says who asked, for the record (e.g. the leader's unit name).
	By string
	// Staged says the charm already ran StageRelease for Target (see
	// PlanStage), so DOWNLOADING will not download.
	Staged bool
	// PrepareTimeout bounds PREPARE; zero means DefaultPrepareTimeout.
	PrepareTimeout time.Duration
}

// RetryRequest is what the `upgrade-retry` action asks for.
type RetryRequest struct {
	By             string
	Staged         bool
	PrepareTimeout time.Duration
}

// PlanStage checks that target may be staged now (an upgrade to it could be
// initiated or retried) and returns the effect that stages it. Staging
// touches neither `current` nor any service, so the leader runs it before
// recording PREPARE and worker downtime does not grow with the release size.
func PlanStage(rec Record, target string) ([]Effect, error) {
	if err := ValidateVersion(target); err != nil {
		return nil, err
	}
	switch {
	case rec.Phase == PhaseIdle && target == rec.Version:
		return nil, &SameVersionError{Version: target}
	case rec.Phase == PhaseIdle, rec.Phase == PhaseFailed && target == rec.TargetVersion:
		return []Effect{{Kind: StageRelease, Version: target}}, nil
	}
	_, err := fireUpgrade(rec.Phase, UpgradeInitiate)
	return nil, err
}

// Initiate starts a new generation: IDLE -> PREPARE. Asking again for the
// target already under way changes nothing.
func Initiate(now time.Time, rec Record, req InitiateRequest) (Record, error) {
	if err := ValidateVersion(req.Target); err != nil {
		return rec, err
	}
	timeout, err := prepareTimeout(req.PrepareTimeout)
	if err != nil {
		return rec, err
	}
	underWay := rec.Phase == PhasePrepare || rec.Phase == PhaseDownloading || rec.Phase == PhaseComplete
	if underWay && rec.TargetVersion == req.Target {
		return rec, nil
	}
	previous := rec.Version
	if previous == "" {
		previous = req.Installed
	}
	if rec.Phase == PhaseIdle {
		switch {
		case previous == "":
			return rec, &NoReleaseError{}
		case previous == req.Target:
			return rec, &SameVersionError{Version: previous}
		}
		if err := ValidateVersion(previous); err != nil {
			return rec, &InvalidRequestError{Field: "installed", Value: previous, Reason: err.Error()}
		}
	}
	phase, err := fireUpgrade(rec.Phase, UpgradeInitiate)
	if err != nil {
		return rec, err
	}
	at := stamp(now)
	return Record{
		Phase:           phase,
		Generation:      rec.Generation + 1,
		Version:         previous,
		TargetVersion:   req.Target,
		PreviousVersion: previous,
		InitiatedBy:     req.By,
		InitiatedAt:     at,
		Deadline:        at.Add(timeout),
		Staged:          req.Staged,
	}, nil
}

// LeaderStep moves the record on when the units' acks or the clock say so:
// PREPARE -> DOWNLOADING when every unit is ready (even past the deadline),
// PREPARE -> IDLE past the deadline with units still not ready, COMPLETE ->
// IDLE when every unit runs the target. In DOWNLOADING it asks for the
// switch until ConfirmSwitch records its result. units are
// the units to wait for, the leader included; acks of units not in it and
// acks of another generation do not count.
func LeaderStep(now time.Time, rec Record, acks map[string]Ack, units []string) (Record, []Effect, error) {
	switch rec.Phase {
	case PhasePrepare:
		if len(units) == 0 {
			return rec, nil, ErrNoUnits
		}
		waiting := pending(rec, acks, units, readyForDownload)
		// Every unit ready wins over a passed deadline: the leader's clock is
		// only looked at when a hook runs (update-status may come minutes
		// late), and aborting then would drain the cluster for nothing.
		if len(waiting) > 0 {
			if !now.Before(rec.Deadline) {
				reason := fmt.Sprintf("PREPARE passed its deadline %s with units not ready: %s", formatTime(rec.Deadline), strings.Join(waiting, ", "))
				return abort(rec, "the leader", reason)
			}
			return rec, nil, nil
		}
		next, err := advance(rec, UpgradeWorkersReady)
		if err != nil {
			return rec, nil, err
		}
		next.Deadline = time.Time{}
		return next, []Effect{{Kind: SwitchRelease, Version: rec.TargetVersion}}, nil
	case PhaseDownloading:
		return rec, []Effect{{Kind: SwitchRelease, Version: rec.TargetVersion}}, nil
	case PhaseComplete:
		if len(units) == 0 {
			return rec, nil, ErrNoUnits
		}
		if len(pending(rec, acks, units, runningTarget)) > 0 {
			return rec, nil, nil
		}
		next, err := advance(rec, UpgradeFinish)
		if err != nil {
			return rec, nil, err
		}
		next.Version = rec.TargetVersion
		next.LastError = ""
		return next, nil, nil
	case PhaseIdle, PhaseFailed:
		return rec, nil, nil
	}
	_, err := fireUpgrade(rec.Phase, UpgradeWorkersReady)
	return rec, nil, err
}

// ConfirmSwitch records the result of the SwitchRelease that LeaderStep
// asked for in DOWNLOADING: COMPLETE on success, FAILED (and `current` back
// to the previous release) on failure.
func ConfirmSwitch(rec Record, generation uint64, switchErr error) (Record, []Effect, error) {
	event := UpgradeDownloadVerified
	if switchErr != nil {
		event = UpgradeDownloadFailed
	}
	if rec.Generation != generation {
		return rec, nil, &StaleGenerationError{Event: event, Record: rec.Generation, Got: generation}
	}
	next, err := advance(rec, event)
	if err != nil {
		return rec, nil, err
	}
	if switchErr == nil {
		return next, nil, nil
	}
	next.LastError = switchErr.Error()
	return next, []Effect{{Kind: SwitchRelease, Version: rec.PreviousVersion}}, nil
}

// Abort gives up on the generation under way (the `upgrade-abort` action):
// `current` goes back to the previous release and the workers start on it.
func Abort(rec Record, by, reason string) (Record, []Effect, error) {
	if reason == "" {
		reason = "no reason given"
	}
	return abort(rec, by, reason)
}

// Retry starts a new generation for the same target after FAILED (the
// `upgrade-retry` action). Stage again first (PlanStage) to keep downtime short.
func Retry(now time.Time, rec Record, req RetryRequest) (Record, error) {
	timeout, err := prepareTimeout(req.PrepareTimeout)
	if err != nil {
		return rec, err
	}
	next, err := advance(rec, UpgradeRetry)
	if err != nil {
		return rec, err
	}
	at := stamp(now)
	next.Generation = rec.Generation + 1
	next.InitiatedBy = req.By
	next.InitiatedAt = at
	next.Deadline = at.Add(timeout)
	next.Staged = req.Staged
	next.LastError = ""
	return next, nil
}

// Rollback gives up on the target after FAILED (the `upgrade-rollback`
// action): the previous release becomes the settled one again.
func Rollback(rec Record, by string) (Record, []Effect, error) {
	next, err := advance(rec, UpgradeRollback)
	if err != nil {
		return rec, nil, err
	}
	next.Version = rec.PreviousVersion
	next.LastError = fmt.Sprintf("upgrade to %s rolled back by %s after: %s", rec.TargetVersion, orSomeone(by), rec.LastError)
	return next, []Effect{{Kind: SwitchRelease, Version: rec.PreviousVersion}}, nil
}

func abort(rec Record, by, reason string) (Record, []Effect, error) {
	next, err := advance(rec, UpgradeAbort)
	if err != nil {
		return rec, nil, err
	}
	next.Deadline = time.Time{}
	next.Version = rec.PreviousVersion
	next.LastError = fmt.Sprintf("upgrade to %s aborted by %s: %s", rec.TargetVersion, orSomeone(by), reason)
	return next, []Effect{{Kind: SwitchRelease, Version: rec.PreviousVersion}}, nil
}

// advance fires a leader event and returns the record in its new phase,
// everything else unchanged.
func advance(rec Record, event string) (Record, error) {
	phase, err := fireUpgrade(rec.Phase, event)
	if err != nil {
		return rec, err
	}
	rec.Phase = phase
	return rec, nil
}

func prepareTimeout(d time.Duration) (time.Duration, error) {
	switch {
	case d < 0:
		return 0, &InvalidRequestError{Field: "prepare-timeout", Value: d.String(), Reason: "must be positive, e.g. 10m; leave it unset for the default"}
	case d == 0:
		return DefaultPrepareTimeout, nil
	}
	return d, nil
}

func orSomeone(by string) string {
	if by == "" {
		return "an operator"
	}
	return by
}

// readyForDownload says the unit's worker is stopped for this generation.
func readyForDownload(rec Record, a Ack) bool {
	return a.ReadyForDownload && a.Error == ""
}

// runningTarget says the unit's worker runs the target of this generation.
func runningTarget(rec Record, a Ack) bool {
	return !a.ReadyForDownload && a.Error == "" && a.RunningVersion == rec.TargetVersion
}

// pending lists the units (sorted, once each) whose ack for this generation
// does not satisfy done, with the unit's own error when it reported one.
func pending(rec Record, acks map[string]Ack, units []string, done func(Record, Ack) bool) []string {
	sorted := append([]string(nil), units...)
	sort.Strings(sorted)
	var waiting []string
	for i, unit := range sorted {
		if i > 0 && unit == sorted[i-1] {
			continue
		}
		ack, ok := acks[unit]
		switch {
		case ok && ack.Generation == rec.Generation && done(rec, ack):
		case ok && ack.Generation == rec.Generation && ack.Error != "":
			waiting = append(waiting, fmt.Sprintf("%s (%s)", unit, ack.Error))
		default:
			waiting = append(waiting, unit)
		}
	}
	return waiting
}
