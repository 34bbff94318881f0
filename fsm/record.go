package fsm

import (
	"fmt"
	"slices"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/version"
)

// Phase is the upgrade machine's state as the leader records it. The zero
// value is PhaseIdle, so the zero Record is what a fresh relation holds.
type Phase int

// Upgrade phases, in table order.
const (
	PhaseIdle Phase = iota
	PhasePrepare
	PhaseDownloading
	PhaseComplete
	PhaseFailed
)

// phaseNames are the names the table and the relation data use.
func phaseNames() []string {
	return []string{"idle", "prepare", "downloading", "complete", "failed"}
}

func (p Phase) String() string {
	if names := phaseNames(); p >= 0 && int(p) < len(names) {
		return names[p]
	}
	return fmt.Sprintf("phase(%d)", int(p))
}

// ParsePhase maps a phase name back to its Phase.
func ParsePhase(name string) (Phase, bool) {
	i := slices.Index(phaseNames(), name)
	return Phase(i), i >= 0
}

// Outcome says how the last generation ended, once the record is idle
// again; it lets a repeated operator action answer "already done".
type Outcome string

// Outcomes of a generation.
const (
	OutcomeNone       Outcome = ""
	OutcomeFinished   Outcome = "finished"
	OutcomeAborted    Outcome = "aborted"
	OutcomeRolledBack Outcome = "rolled-back"
	// OutcomeRecovered: the record was lost (a wiped application bag) and
	// the leader rebuilt it; units still run what they ran until they act.
	OutcomeRecovered Outcome = "recovered"
)

func outcomes() []Outcome {
	return []Outcome{OutcomeNone, OutcomeFinished, OutcomeAborted, OutcomeRolledBack, OutcomeRecovered}
}

// Record is the leader's decision, kept in the peer relation's application
// bag. Only the leader writes it, and every unit acts only on a record Juju
// has committed (read at the start of a hook), never on one it has just
// written.
type Record struct {
	Phase Phase
	// Generation increases on every initiate and retry; acks of another
	// generation never count.
	Generation uint64
	// Revision increases on every write of the record. It fences the
	// volume's `current` pointer (a switch for an older revision is
	// refused) and tells each unit's ack which record it answers.
	Revision uint64
	// Version is the settled release every unit runs while idle; zero
	// until the first release is staged.
	Version version.Version
	// TargetVersion and PreviousVersion are the two ends of the latest
	// generation; they stay after it ends, for the record.
	TargetVersion   version.Version
	PreviousVersion version.Version
	InitiatedBy     string
	// InitiatedAt is the initiating leader's clock, for people. Deadlines
	// are never computed from another unit's clock: see LeaderView.
	InitiatedAt time.Time
	// PrepareTimeout bounds PREPARE, measured by the leader's own clock
	// from when it first saw the phase.
	PrepareTimeout time.Duration
	// Members are the units the leader counts, itself included, sorted. A
	// unit runs no service until a committed record lists it, so a unit
	// the leader has not seen yet can never be running unnoticed.
	Members []string
	// Outcome is how the generation ended (idle records only).
	Outcome   Outcome
	LastError string
}

// IsMember reports whether unit is listed in the record.
func (r Record) IsMember(unit string) bool {
	_, found := slices.BinarySearch(r.Members, unit)
	return found
}

// Ack is one unit's report for a record, kept in that unit's own bag. It is
// derived from what the unit observed on its machine after acting, never
// from what it acknowledged before.
type Ack struct {
	// Generation is the generation of the record the unit acted on.
	Generation uint64
	// Seen is the revision of that record. Every new revision changes it,
	// so every unit's ack changes and Juju wakes the leader, which gets
	// no event for its own writes.
	Seen uint64
	// WorkerStopped says the unit runs no worker (drained, stopped and
	// disabled, so a reboot does not start it).
	WorkerStopped bool
	// Staged says the generation's target is unpacked and verified on the
	// unit's volume (and, on the unit that switches it, `current` names it).
	Staged bool
	// Running is the release all of the unit's services run; zero when
	// they are stopped or disagree.
	Running version.Version
	// Error is what went wrong the last time the unit acted, if anything.
	Error string
	// WroteGeneration and WroteRevision are the highest generation and
	// revision this unit wrote as leader. They are committed in the same
	// hook as the record they echo, and a wiped application bag leaves
	// them: a later leader rebuilds a lost record above them.
	WroteGeneration, WroteRevision uint64
}

// answers reports whether a is an ack for rec's generation.
func (a Ack) answers(rec Record) bool { return a.Generation == rec.Generation }

// stamp is how the record keeps times: UTC, whole seconds, no monotonic
// reading, so it survives the codec unchanged.
func stamp(t time.Time) time.Time {
	return t.UTC().Truncate(time.Second)
}
