package charm

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/fsm"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/fsutil"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/version"
)

// localStateFile is the charm's machine-local memory, under Deps.StateDir.
const localStateFile = "charm-state.json"

// localState is what a unit remembers on its own machine between hooks;
// nothing here is shared. Losing it (a corrupt or lost file) costs one
// restart of each running service (Installed is forgotten), a prepare
// deadline counted again from later, the pending prunes and the
// containerd claim; a leader that lost its Written* numbers still never
// reuses a committed generation: its own bag echoes them (Ack.Wrote*).
type localState struct {
	// Installed maps each systemd unit the charm installed to the release
	// its unit file pins.
	Installed map[string]version.Version `json:"installed"`
	// PhaseSeen is when this unit, as leader, first saw the record's
	// generation in its phase, on its own clock: the prepare timeout is
	// measured from here, never from another unit's clock.
	PhaseSeen phaseSeen `json:"phase_seen"`
	// LastDrain is how the last worker stop ended, for an operator who
	// reads this file (juju ssh); the status said it at the time.
	LastDrain string `json:"last_drain,omitempty"`
	// Written is the highest generation and revision this unit wrote as
	// leader (committed or not), so a rebuilt record never reuses one.
	WrittenGeneration uint64 `json:"written_generation,omitempty"`
	WrittenRevision   uint64 `json:"written_revision,omitempty"`
	// (opened_ports and closed_ports, written by earlier revisions, are
	// ignored: syncPorts reads the unit's ports from Juju.)
	// Prune lists the workers this unit means to prune once the ATC shows
	// them stalled (see prune.go).
	Prune []pendingPrune `json:"prune,omitempty"`
	// WorkerRuntime is the runtime of the worker this unit runs, or is
	// about to run ("" when none), for the other units on its machine to
	// see (see containerdHolder).
	WorkerRuntime string `json:"worker_runtime,omitempty"`
}

type phaseSeen struct {
	Generation uint64    `json:"generation"`
	Phase      string    `json:"phase"`
	At         time.Time `json:"at"`
}

func loadLocalState(dir string) (*localState, error) {
	s := &localState{Installed: map[string]version.Version{}}
	data, err := os.ReadFile(filepath.Join(dir, localStateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, s); err != nil {
		// Read as absent: see localState for what that costs.
		return &localState{Installed: map[string]version.Version{}}, nil
	}
	if s.Installed == nil {
		s.Installed = map[string]version.Version{}
	}
	return s, nil
}

// save replaces the file atomically but without fsync: a power cut may
// leave it empty, which reads as a lost file (see localState).
func (s *localState) save(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create the charm's state directory: %w", err)
	}
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.Writer{NoSync: true}.WriteFile(filepath.Join(dir, localStateFile), data, 0o600)
}

// phaseSince is when this unit first saw rec's generation in its phase,
// recording now if it had not.
func (s *localState) phaseSince(rec fsm.Record, now time.Time) time.Time {
	if s.PhaseSeen.Generation != rec.Generation || s.PhaseSeen.Phase != rec.Phase.String() {
		s.PhaseSeen = phaseSeen{Generation: rec.Generation, Phase: rec.Phase.String(), At: now.UTC()}
	}
	return s.PhaseSeen.At
}
