//go:build !unit

package charmtest

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/fsm"
	"github.com/stretchr/testify/require"
)

var (
	seeds      = flag.Int("seeds", 200, "random schedules to run (make soak runs 10000)")
	seedBase   = flag.Uint64("seed-base", 1, "the first seed")
	faultRate  = flag.Float64("fault-rate", 0.15, "the chance that a step is a fault")
	maxFaults  = flag.Int("max-faults", 3, "faults per random schedule")
	exploreN   = flag.Int("explore-units", 2, "units in the exhaustive search (make soak: 3)")
	exploreMax = flag.Int("explore-faults", 2, "faults per schedule in the exhaustive search")
	// A preemption bound keeps 3 units tractable (make soak); 0 searches
	// every order, as make test does for 2 units.
	exploreSwitches = flag.Int("explore-switches", 0, "switches away from a unit with a ready hook per schedule in the exhaustive search (0: unbounded)")
	// exploreActions adds operator actions (abort, retry, rollback, a next
	// upgrade) to the first exhaustive search: 9k states become 139k.
	exploreActions = flag.Int("explore-actions", 0, "operator actions per schedule in the exhaustive search")
	verbose        = flag.Bool("trace", false, "print every schedule's steps and the model's trace")
)

// allFaults are the faults the searches inject.
func allFaults() []Kind {
	return []Kind{CutOff, Preempt, Stale, MoveLeader, Reboot, Down, FailDownload, Wipe}
}

// upgradeStart is a converged cluster with `upgrade version=7.14.4` queued
// on the leader and not yet run.
func upgradeStart(tb testing.TB, units int, apart []string) *World {
	tb.Helper()
	w := deployed(tb, units, Options{Apart: apart, Config: map[string]any{"prepare-timeout": "10m"}, Releases: []string{"7.14.3", "7.14.4", "7.15.0"}})
	w.Model.RunAction(w.Model.Leader(w.App), fsm.ActionUpgrade, map[string]any{"version": "7.14.4"})
	return w
}

// TestExhaustiveSchedules searches every order of hooks of an upgrade on
// 2 units (one of them keeping its own copy of the release, so downloads
// can fail in DOWNLOADING), with up to 2 faults and 2 clock ticks per
// schedule, and checks the invariants after every step and liveness at
// every end.
func TestExhaustiveSchedules(t *testing.T) {
	t.Parallel()
	if !inPrivateTmp(t) {
		return
	}
	ctx := context.Background()
	var apart []string
	if *exploreN > 2 {
		apart = []string{fmt.Sprintf("concourse/%d", *exploreN-1)}
	}
	w := upgradeStart(t, *exploreN, apart)
	scratch := t.TempDir()
	start := time.Now()
	e := &Explorer{Faults: allFaults(), Budget: Budget{Faults: *exploreMax, Ticks: 2, Actions: *exploreActions}, MaxDepth: 80, Scratch: scratch, MaxSwitches: *exploreSwitches,
		ProgressEvery: 50_000, Progress: func(e *Explorer) {
			t.Logf("... %d states, %d at rest, %d pruned, %s", e.States, e.Leaves, e.Pruned, time.Since(start).Round(time.Second))
		}}
	err := e.Explore(ctx, w)
	t.Logf("explored %d states, %d schedules at rest, %d pruned, %s", e.States, e.Leaves, e.Pruned, time.Since(start).Round(time.Millisecond))
	if err != nil {
		report(t, err)
	}
}

// TestExhaustiveSchedulesAfterAnAbort searches every schedule from a
// second generation: an upgrade was aborted after every worker stopped, and
// an upgrade to another release is queued. Acks of the first generation
// still say "stopped" until each unit acts; a fault may keep one from
// acting. Up to 2 faults and 2 ticks per schedule.
func TestExhaustiveSchedulesAfterAnAbort(t *testing.T) {
	t.Parallel()
	if !inPrivateTmp(t) {
		return
	}
	ctx := context.Background()
	w := deployed(t, 2, Options{Releases: []string{"7.14.3", "7.14.4", "7.15.0"}})
	startUpgrade(t, w, "7.14.4")
	runUntil(t, w, 200, func(r fsm.Record) bool {
		a, err := w.Ack("concourse/1")
		return err == nil && r.Phase == fsm.PhasePrepare && a.Generation == r.Generation && a.WorkerStopped
	})
	leader := w.Model.Leader(w.App)
	abort := w.Model.RunActionFirst(leader, fsm.ActionUpgradeAbort, map[string]any{"reason": "search"})
	for !abort.Done {
		require.NoError(t, w.Step(ctx, leader))
	}
	require.False(t, abort.Failed, abort.Message)
	w.Model.RunAction(leader, fsm.ActionUpgrade, map[string]any{"version": "7.15.0"})
	e := &Explorer{Faults: allFaults(), Budget: Budget{Faults: *exploreMax, Ticks: 2}, MaxDepth: 80, Scratch: t.TempDir()}
	start := time.Now()
	err := e.Explore(ctx, w)
	t.Logf("explored %d states, %d schedules at rest, %d pruned, %s", e.States, e.Leaves, e.Pruned, time.Since(start).Round(time.Millisecond))
	if err != nil {
		report(t, err)
	}
}

// TestRandomSchedules runs -seeds random schedules of an upgrade on 3 units
// (one keeping its own copy) with faults, each checked at every step and
// for liveness at its end. A failure prints its seed and the command that
// replays it with a trace.
func TestRandomSchedules(t *testing.T) {
	t.Parallel()
	if !inPrivateTmp(t) {
		return
	}
	ctx := context.Background()
	base := upgradeStart(t, 3, []string{"concourse/2"})
	scratch := t.TempDir()
	failures := 0
	for i := 0; i < *seeds && failures < 3; i++ {
		seed := *seedBase + uint64(i)
		dir := filepath.Join(scratch, fmt.Sprintf("seed-%d", seed))
		w, err := base.Clone(dir)
		require.NoError(t, err)
		began := time.Now()
		path, err := RandomSchedule(ctx, w, seed, *faultRate, Budget{Faults: *maxFaults, Ticks: 6, Actions: 3}, allFaults(), 500)
		if err != nil {
			failures++
			t.Errorf("seed %d failed; replay: go test ./charm/charmtest -run 'TestRandomSchedules$' -seed-base=%d -seeds=1 -trace -v", seed, seed)
			report(t, err)
		} else if took := time.Since(began); took > 2*time.Second {
			t.Logf("seed %d took %s, %d hooks", seed, took.Round(time.Millisecond), w.Model.HooksRun())
		}
		if *verbose && err == nil {
			t.Logf("seed %d: %v", seed, path)
			t.Logf("trace:\n%s", strings.Join(w.Model.Trace(), "\n"))
		}
		require.NoError(t, os.RemoveAll(dir))
		if n := i + 1; n%1000 == 0 {
			t.Logf("... %d seeds, %d failed", n, failures)
		}
	}
}

func report(t *testing.T, err error) {
	t.Helper()
	t.Error(err)
	var f *Failure
	if errors.As(err, &f) && (*verbose || len(f.Trace) < 400) {
		t.Logf("model trace:\n%s", strings.Join(f.Trace, "\n"))
	}
}
