package fsm

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/version"
)

// The protocol, as pure functions of committed relation data. The charm
// follows Juju's uniter discipline in every hook:
//
//  1. read the committed record and acks (what Juju holds at hook start);
//  2. act on the record it read: Wanted says what this unit must run, stage
//     and point `current` at, and nothing else moves;
//  3. report what it observed afterwards (AckFor) in its own unit bag;
//  4. on the leader, decide the next record (LeaderStep or an operator
//     request) and write it, WITHOUT acting on it: a later hook, on any
//     unit, acts once Juju has committed it.
//
// Every new record has a new Revision, so every unit's ack changes when it
// acts on it, and that change wakes the leader (Juju sends nobody events
// for their own writes). A hook that is cut off or a leader that loses
// leadership mid-hook therefore leaves only effects that the committed
// record already allowed.

// Want is what a committed record asks of one unit. A zero version means
// "none": not running (worker, web) or nothing to do (stage, current).
type Want struct {
	// Member says the record lists the unit. A unit runs no service until
	// a committed record lists it.
	Member bool
	// Worker is the release the unit's worker runs; zero: drained, stopped
	// and disabled (so a reboot does not start it).
	Worker version.Version
	// Web is the release web runs, on units with the web role.
	Web version.Version
	// Stage must be unpacked and verified on the unit's volume.
	Stage version.Version
	// PreStage is worth downloading ahead while workers still run (units
	// whose volume is not shared); a failure here is not an error yet.
	PreStage version.Version
	// Current is what the volume's `current` must name, on the unit that
	// switches it (the leader, or a unit whose volume is not shared),
	// fenced by the record's revision.
	Current version.Version
}

// Wanted is what rec asks of unit. It depends on nothing but the committed
// record, so any unit, in any hook, after any fault, computes the same.
func Wanted(rec Record, unit string) Want {
	settled, target, previous := rec.Version, rec.TargetVersion, rec.PreviousVersion
	var w Want
	switch rec.Phase {
	case PhaseIdle:
		w = Want{Worker: settled, Web: settled, Stage: settled, Current: settled}
	case PhasePrepare:
		w = Want{Web: previous, Stage: previous, PreStage: target, Current: previous}
	case PhaseDownloading:
		w = Want{Web: previous, Stage: target, Current: target}
	case PhaseComplete:
		w = Want{Worker: target, Web: target, Stage: target, Current: target}
	case PhaseFailed:
		w = Want{Worker: previous, Web: previous, Stage: previous, Current: previous}
	}
	w.Member = rec.IsMember(unit)
	if !w.Member {
		w.Worker, w.Web = version.Version{}, version.Version{}
	}
	return w
}

// Observed is what a unit found on its machine after acting on a record.
type Observed struct {
	// Worker is the release its worker runs; zero when it runs none.
	Worker version.Version
	// Running is the release all its services run; zero when they are
	// stopped or disagree.
	Running version.Version
	// TargetReady says the record's target is unpacked and verified on the
	// unit's volume and, on the unit that switches `current`, named by it.
	TargetReady bool
	// Err is what went wrong while acting, if anything.
	Err error
}

// AckFor is the unit's report for rec, from what it observed.
func AckFor(rec Record, obs Observed) Ack {
	a := Ack{
		Generation:    rec.Generation,
		Seen:          rec.Revision,
		WorkerStopped: obs.Worker.IsZero(),
		Staged:        obs.TargetReady,
		Running:       obs.Running,
	}
	if obs.Err != nil {
		a.Error = obs.Err.Error()
	}
	return a
}

// Stale reports whether rec is older than a record the unit has already
// acted on (its own committed ack says so): the application bag was wiped
// or rolled back. The unit must not act on it; the leader rebuilds it
// (Recover).
func Stale(rec Record, own Ack) bool { return rec.Revision < own.Seen }

// LeaderView is what the leader knows in this hook.
type LeaderView struct {
	// Self is the leader's own unit: relation-list does not list it.
	Self string
	// Peers are the other units (relation-list), without departing ones.
	Peers []string
	// Acks are the peers' committed acks and, under Self, the ack this
	// hook just observed for the leader's own unit.
	Acks map[string]Ack
	// Now is the leader's clock; PhaseSince is when this leader first saw
	// rec's generation in its phase, on the same clock. Deadlines never
	// compare two units' clocks: a new leader starts its own count.
	Now        time.Time
	PhaseSince time.Time
}

// Members is the sorted set of Self and Peers.
func (v LeaderView) Members() []string {
	members := append([]string{v.Self}, v.Peers...)
	slices.Sort(members)
	return slices.Compact(members)
}

// Decision is a LeaderStep's result.
type Decision struct {
	// Record is the record to write; equal to the input when Changed is
	// false.
	Record  Record
	Changed bool
	// Event is the table event taken, "" when the phase stays.
	Event string
	// Waiting lists the members the phase still waits for, each with its
	// reported error if any.
	Waiting []Waiting
}

// Waiting is one member the leader still waits for.
type Waiting struct {
	Unit  string
	Error string
}

func (w Waiting) String() string {
	if w.Error == "" {
		return w.Unit
	}
	return w.Unit + " (" + w.Error + ")"
}

// LeaderStep decides the next record from the committed one and the
// members' acks: membership follows the peers; PREPARE moves on when every
// member stopped its worker (every member ready beats a deadline noticed
// late) or aborts once the prepare timeout passed on this leader's clock;
// DOWNLOADING moves on when every member has the target ready, or fails when
// one reports an error; COMPLETE settles when every member runs the target.
func LeaderStep(rec Record, view LeaderView) (Decision, error) {
	next := rec
	next.Members = view.Members()
	changed := !slices.Equal(next.Members, rec.Members)
	d := Decision{Record: next}
	var err error
	switch rec.Phase {
	case PhasePrepare:
		d.Waiting = Pending(next, view.Acks)
		switch {
		case len(d.Waiting) == 0:
			d.Event = UpgradeWorkersReady
		case !view.PhaseSince.IsZero() && !view.Now.Before(view.PhaseSince.Add(rec.PrepareTimeout)):
			d.Event = UpgradeAbort
			next = aborted(next, "the leader", fmt.Sprintf("the prepare timeout (%s) passed with units not stopped: %s",
				rec.PrepareTimeout, joinWaiting(d.Waiting)))
		}
	case PhaseDownloading:
		if failed := failedUnits(next, view.Acks); len(failed) > 0 {
			d.Event = UpgradeDownloadFailed
			next.LastError = fmt.Sprintf("%s could not get %s ready: %s", failed[0].Unit, rec.TargetVersion, failed[0].Error)
			break
		}
		d.Waiting = Pending(next, view.Acks)
		if len(d.Waiting) == 0 {
			d.Event = UpgradeDownloadVerified
		}
	case PhaseComplete:
		d.Waiting = Pending(next, view.Acks)
		if len(d.Waiting) == 0 {
			d.Event = UpgradeFinish
			next.Version = rec.TargetVersion
			next.Outcome = OutcomeFinished
			next.LastError = ""
		}
	}
	if d.Event != "" {
		if next.Phase, err = takeUpgrade(rec.Phase, d.Event); err != nil {
			return Decision{Record: rec}, err
		}
		changed = true
	}
	if changed {
		next.Revision = rec.Revision + 1
	}
	d.Record, d.Changed = next, changed
	return d, nil
}

// Pending lists the members the record's phase waits for: LeaderStep moves
// on when none is left, and status lines name them.
func Pending(rec Record, acks map[string]Ack) []Waiting {
	switch rec.Phase {
	case PhasePrepare:
		return waitingFor(rec, acks, func(a Ack) bool { return a.WorkerStopped })
	case PhaseDownloading:
		return waitingFor(rec, acks, func(a Ack) bool { return a.Staged })
	case PhaseComplete:
		return waitingFor(rec, acks, func(a Ack) bool { return a.Running == rec.TargetVersion })
	}
	return nil
}

// waitingFor lists the members whose ack for rec's generation does not
// satisfy done (or reports an error). Acks of another generation never
// count.
func waitingFor(rec Record, acks map[string]Ack, done func(Ack) bool) []Waiting {
	var waiting []Waiting
	for _, unit := range rec.Members {
		ack, ok := acks[unit]
		switch {
		case !ok || !ack.answers(rec):
			waiting = append(waiting, Waiting{Unit: unit})
		case ack.Error != "":
			waiting = append(waiting, Waiting{Unit: unit, Error: ack.Error})
		case !done(ack):
			waiting = append(waiting, Waiting{Unit: unit})
		}
	}
	return waiting
}

// failedUnits lists the members whose ack for rec's generation reports an
// error. In DOWNLOADING every member has reported its worker stopped without
// error first, so an error here is about getting the target ready.
func failedUnits(rec Record, acks map[string]Ack) []Waiting {
	var failed []Waiting
	for _, unit := range rec.Members {
		if ack, ok := acks[unit]; ok && ack.answers(rec) && ack.Error != "" {
			failed = append(failed, Waiting{Unit: unit, Error: ack.Error})
		}
	}
	return failed
}

func joinWaiting(ws []Waiting) string {
	parts := make([]string, len(ws))
	for i, w := range ws {
		parts[i] = w.String()
	}
	return strings.Join(parts, ", ")
}

// InitiateRequest is what the `upgrade` action (or a changed `version`
// config) asks for. The charm stages Target before calling Initiate: a
// release that cannot be had never starts a generation.
type InitiateRequest struct {
	Target         version.Version
	By             string
	Now            time.Time
	PrepareTimeout time.Duration
}

// Initiate starts a new generation: IDLE -> PREPARE, or COMPLETE -> PREPARE
// to move forward to a fixed release. Asking for the target already under
// way is *AlreadyError. A target older than the release web may run is
// refused: Concourse migrates its database forward when web starts.
func Initiate(rec Record, req InitiateRequest) (Record, error) {
	if req.Target.IsZero() {
		return rec, &InvalidRequestError{Field: "version", Reason: "is empty"}
	}
	if req.PrepareTimeout <= 0 {
		return rec, &InvalidRequestError{Field: "prepare-timeout", Value: req.PrepareTimeout.String(), Reason: "must be positive"}
	}
	var previous version.Version
	switch rec.Phase {
	case PhaseIdle:
		switch {
		case rec.Version.IsZero():
			return rec, &NoReleaseError{}
		case req.Target == rec.Version:
			return rec, &SameVersionError{Version: rec.Version}
		}
		previous = rec.Version
	case PhasePrepare, PhaseDownloading, PhaseComplete:
		if req.Target == rec.TargetVersion {
			return rec, &AlreadyError{What: "upgrading to " + rec.TargetVersion.String()}
		}
		previous = rec.TargetVersion // from COMPLETE: web may run it already
	}
	if !previous.IsZero() && req.Target.Less(previous) {
		return rec, &InvalidRequestError{Field: "version", Value: req.Target.String(),
			Reason: fmt.Sprintf("is older than %s, which web runs or may run: Concourse migrates its database forward when web starts, so this charm does not downgrade", previous)}
	}
	phase, err := takeUpgrade(rec.Phase, UpgradeInitiate)
	if err != nil {
		return rec, err
	}
	at := stamp(req.Now)
	return Record{
		Phase:           phase,
		Generation:      rec.Generation + 1,
		Revision:        rec.Revision + 1,
		Version:         previous,
		TargetVersion:   req.Target,
		PreviousVersion: previous,
		InitiatedBy:     req.By,
		InitiatedAt:     at,
		PrepareTimeout:  req.PrepareTimeout,
		Members:         rec.Members,
	}, nil
}

// Abort gives up on the generation under way (the `upgrade-abort` action):
// PREVIOUS is settled again. Nothing is undone in the calling hook, so an
// abort is always recordable; the units restore PREVIOUS when they read it.
func Abort(rec Record, by, reason string) (Record, error) {
	if rec.Phase == PhaseIdle && rec.Outcome == OutcomeAborted {
		return rec, &AlreadyError{What: "aborted"}
	}
	if _, err := takeUpgrade(rec.Phase, UpgradeAbort); err != nil {
		return rec, err
	}
	if reason == "" {
		reason = "no reason given"
	}
	next := aborted(rec, by, reason)
	next.Phase = PhaseIdle
	next.Revision = rec.Revision + 1
	return next, nil
}

func aborted(rec Record, by, reason string) Record {
	if by == "" {
		by = "an operator"
	}
	rec.Version = rec.PreviousVersion
	rec.Outcome = OutcomeAborted
	rec.LastError = fmt.Sprintf("upgrade to %s aborted by %s: %s", rec.TargetVersion, by, reason)
	return rec
}

// RetryRequest is what the `upgrade-retry` action asks for.
type RetryRequest struct {
	By             string
	Now            time.Time
	PrepareTimeout time.Duration
}

// Retry starts a new generation for the same target after FAILED (the
// `upgrade-retry` action); the charm stages the target again first.
func Retry(rec Record, req RetryRequest) (Record, error) {
	switch {
	case rec.Phase == PhasePrepare, rec.Phase == PhaseDownloading, rec.Phase == PhaseComplete:
		return rec, &AlreadyError{What: "upgrading to " + rec.TargetVersion.String()}
	case rec.Phase == PhaseIdle && rec.Outcome == OutcomeFinished && rec.Version == rec.TargetVersion:
		return rec, &AlreadyError{What: "upgraded to " + rec.Version.String()}
	}
	if req.PrepareTimeout <= 0 {
		return rec, &InvalidRequestError{Field: "prepare-timeout", Value: req.PrepareTimeout.String(), Reason: "must be positive"}
	}
	phase, err := takeUpgrade(rec.Phase, UpgradeRetry)
	if err != nil {
		return rec, err
	}
	next := rec
	next.Phase = phase
	next.Generation = rec.Generation + 1
	next.Revision = rec.Revision + 1
	next.InitiatedBy = req.By
	next.InitiatedAt = stamp(req.Now)
	next.PrepareTimeout = req.PrepareTimeout
	next.LastError = ""
	return next, nil
}

// Rollback gives up on the target after FAILED (the `upgrade-rollback`
// action): PREVIOUS is settled again. Web never ran the target in FAILED.
func Rollback(rec Record, by string) (Record, error) {
	if rec.Phase == PhaseIdle && rec.Outcome == OutcomeRolledBack {
		return rec, &AlreadyError{What: "rolled back"}
	}
	phase, err := takeUpgrade(rec.Phase, UpgradeRollback)
	if err != nil {
		return rec, err
	}
	if by == "" {
		by = "an operator"
	}
	next := rec
	next.Phase = phase
	next.Revision = rec.Revision + 1
	next.Version = rec.PreviousVersion
	next.Outcome = OutcomeRolledBack
	next.LastError = fmt.Sprintf("upgrade to %s rolled back by %s after: %s", rec.TargetVersion, by, rec.LastError)
	return next, nil
}

// Settle records the first release of a fresh cluster, once the leader has
// staged it: from then on members run it. It changes nothing once a
// release is settled (use Initiate).
func Settle(rec Record, v version.Version) (Record, bool) {
	if rec.Phase != PhaseIdle || !rec.Version.IsZero() || v.IsZero() {
		return rec, false
	}
	rec.Version = v
	rec.Revision++
	return rec, true
}

// Evidence is what a leader knows of records that may have been lost.
type Evidence struct {
	// Acks are the members' acks, its own included.
	Acks map[string]Ack
	// Members are the units the leader counts now.
	Members []string
	// FenceRevision and FenceVersion are the volume's `current` fence.
	FenceRevision uint64
	FenceVersion  version.Version
	// WrittenGeneration and WrittenRevision are the highest this leader
	// wrote (committed or not); the acks' Wrote fields say what others did.
	WrittenGeneration, WrittenRevision uint64
}

// Recover rebuilds a record that was lost: the application bag reads as
// fresh (revision 0) although units have acted on records before (their
// acks say so), the volume's `current` was switched under a revision, or
// this leader wrote one. The rebuilt record is idle, lists the members (a
// record without them would stop every unit), runs the release every
// member reports running (or, when they disagree, the one `current`
// names), and has a generation and revision above anything seen or
// written, so neither ever goes back or is reused.
func Recover(rec Record, ev Evidence) (Record, bool) {
	if rec.Revision != 0 {
		return rec, false
	}
	maxGen, maxSeen := ev.WrittenGeneration, max(ev.WrittenRevision, ev.FenceRevision)
	var running []version.Version
	for _, a := range ev.Acks {
		maxGen, maxSeen = max(maxGen, a.Generation, a.WroteGeneration), max(maxSeen, a.Seen, a.WroteRevision)
		running = append(running, a.Running)
	}
	if maxSeen == 0 {
		return rec, false // a fresh relation, not a lost one
	}
	settled := ev.FenceVersion
	if len(running) > 0 && !running[0].IsZero() && !slices.ContainsFunc(running, func(v version.Version) bool { return v != running[0] }) {
		settled = running[0]
	}
	next := Record{
		Phase:      PhaseIdle,
		Generation: maxGen + 1, // above any generation, also one nobody acked yet
		Revision:   maxSeen + 1,
		Version:    settled,
		Members:    ev.Members,
		Outcome:    OutcomeRecovered,
		LastError:  fmt.Sprintf("the upgrade record was lost and rebuilt from the units' reports: settled on %s", settled),
	}
	if settled.IsZero() {
		next.Generation, next.Outcome = 0, OutcomeNone
		next.LastError = "the upgrade record was lost and no release could be read back: waiting for a release to settle"
	}
	return next, true
}

// takeUpgrade fires event from phase through looplab/fsm, built from the
// table, and returns the phase it lands in.
func takeUpgrade(phase Phase, event string) (Phase, error) {
	t := UpgradeTable()
	if _, known := t.State(phase.String()); !known {
		return phase, &InvalidEventError{Machine: t.Machine, State: phase.String(), Event: event}
	}
	m := t.machine(phase.String())
	if err := fire(t, m, event); err != nil {
		return phase, err
	}
	next, ok := ParsePhase(m.Current())
	if !ok {
		return phase, fmt.Errorf("upgrade machine: table leads to undeclared phase %q", m.Current())
	}
	return next, nil
}
