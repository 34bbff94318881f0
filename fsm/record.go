package fsm

import (
	"fmt"
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
	for i, n := range phaseNames() {
		if n == name {
			return Phase(i), true
		}
	}
	return 0, false
}

// Record is the leader's view of the upgrade, kept in the peer relation's
// application bag. Only the leader writes it; unit-side functions in this
// package cannot produce one.
type Record struct {
	Phase Phase
	// Generation increases on every initiate and retry; acks of another
	// generation never count.
	Generation uint64
	// Version is the settled release every worker runs while idle.
	Version string
	// TargetVersion and PreviousVersion are the two ends of the latest
	// generation; they stay after it ends, for the record.
	TargetVersion   string
	PreviousVersion string
	InitiatedBy     string
	InitiatedAt     time.Time
	// Deadline bounds the current phase; zero when the phase has none.
	Deadline time.Time
	// Staged says releases/<target> was unpacked before PREPARE, so the
	// switch in DOWNLOADING does not download.
	Staged    bool
	LastError string
}

// Ack is one unit's answer to the record, kept in that unit's own bag.
type Ack struct {
	// Generation is the generation the unit acted on.
	Generation uint64
	// ReadyForDownload says the unit's worker is drained and stopped.
	ReadyForDownload bool
	// RunningVersion is the release the unit's worker was started on; empty
	// while it is stopped.
	RunningVersion string
	// Error is what went wrong the last time the unit acted, if anything.
	Error string
}

// InvalidVersionError says a string is not a Concourse release version as
// the record keeps it (canonical: no leading "v").
type InvalidVersionError struct {
	Version string
	Err     error // the *version.Error, when the string does not parse at all
}

func (e *InvalidVersionError) Error() string {
	if e.Err != nil {
		return e.Err.Error()
	}
	return fmt.Sprintf("%q is not written the way the record keeps versions (like 7.14.3, without a v)", e.Version)
}

func (e *InvalidVersionError) Unwrap() error { return e.Err }

// ValidateVersion returns *InvalidVersionError unless v is a canonical
// release version such as 7.14.3.
func ValidateVersion(v string) error {
	parsed, err := version.Parse(v)
	if err != nil {
		return &InvalidVersionError{Version: v, Err: err}
	}
	if parsed.String() != v {
		return &InvalidVersionError{Version: v}
	}
	return nil
}
