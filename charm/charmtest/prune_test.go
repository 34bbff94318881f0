package charmtest

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/concourse"
	"github.com/concourse-ci-machine/concourse-ci-machine/fsm"
	"github.com/concourse-ci-machine/concourse-ci-machine/services"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Ghost workers: a unit that leaves without the ATC hearing its worker go
// leaves it registered; the unit running web prunes it through the API
// once the ATC shows it stalled, retrying on later hooks.

const ghost = "test-concourse-2" // concourse/2's worker in model "test"

// pruneWorld is a converged world of three units whose web units reach the
// ATC over a loopback socket.
func pruneWorld(t *testing.T) *World {
	t.Helper()
	w := deployed(t, 3, Options{})
	w.ServeATC()
	require.Equal(t, concourse.WorkerRunning, w.Workers()[ghost])
	return w
}

// leaveUnheard removes concourse/2 while its agent is down, so it never
// retires its worker, and runs the hooks that follow.
func leaveUnheard(t *testing.T, w *World) {
	t.Helper()
	w.SetDown("concourse/2", true)
	w.Model.RemoveUnit("concourse/2")
	require.NoError(t, w.Settle(context.Background(), 2000))
}

// settleUnit runs every hook queued on unit (the others wait).
func settleUnit(t *testing.T, w *World, unit string) {
	t.Helper()
	for slices.Contains(w.Ready(), unit) {
		require.NoError(t, w.Step(context.Background(), unit))
	}
}

// tick queues update-status everywhere and settles the units that are up.
func tick(t *testing.T, w *World) {
	t.Helper()
	w.Model.Tick(5 * time.Minute)
	require.NoError(t, w.Settle(context.Background(), 2000))
}

// pending is what unit still means to prune, from its local state.
func pending(t *testing.T, w *World, unit string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(w.stateDir(unit), "charm-state.json"))
	require.NoError(t, err)
	var s struct {
		Prune []struct {
			Worker string `json:"worker"`
		} `json:"prune"`
	}
	require.NoError(t, json.Unmarshal(data, &s))
	var names []string
	for _, p := range s.Prune {
		names = append(names, p.Worker)
	}
	return names
}

// prunes counts the prune requests the ATC answered for worker.
func prunes(w *World, worker string) int {
	n := 0
	for _, c := range w.ATCCalls() {
		if c == ATCCall("PUT /api/v1/workers/"+worker+"/prune") {
			n++
		}
	}
	return n
}

// noHookFailed checks that every hook so far succeeded.
func noHookFailed(t *testing.T, w *World) {
	t.Helper()
	for _, line := range w.Model.Trace() {
		assert.NotContains(t, line, "-> failed", "a hook failed")
	}
}

// The departing unit's retire is not heard: its worker stalls, and web
// prunes it on its next hook. Before that, while the worker still runs,
// web waits and says so.
func TestDepartedWorkerIsPrunedOnceStalled(t *testing.T) {
	t.Parallel()
	w := pruneWorld(t)
	w.Machine("concourse/2").SetDrainOutcome(services.NotHeard)
	w.SetDown("concourse/2", true) // web hears of the departure first
	w.Model.RemoveUnit("concourse/2")
	settleUnit(t, w, "concourse/0")
	assert.Equal(t, []string{ghost}, pending(t, w, "concourse/0"))
	assert.Equal(t, "active: web 7.14.3; pruning worker "+ghost+" once it stalls (running now)", w.Model.Status("concourse/0").String())
	assert.Zero(t, prunes(w, ghost), "a running worker is not pruned")

	w.SetDown("concourse/2", false)
	settleUnit(t, w, "concourse/2") // it leaves; the ATC did not hear it retire
	assert.Equal(t, concourse.WorkerStalled, w.Workers()[ghost])
	require.NoError(t, w.Settle(context.Background(), 2000))
	assert.NotContains(t, w.Workers(), ghost)
	assert.Equal(t, 1, prunes(w, ghost))
	assert.Empty(t, pending(t, w, "concourse/0"))
	assert.Equal(t, "active: web 7.14.3; pruned stalled worker "+ghost, w.Model.Status("concourse/0").String())

	calls := len(w.ATCCalls())
	tick(t, w)
	assert.Len(t, w.ATCCalls(), calls, "nothing pending: web's API is left alone")
	assert.Equal(t, "active: web 7.14.3", w.Model.Status("concourse/0").String())
	noHookFailed(t, w)
	assert.Empty(t, w.Violations())
}

// A worker that is not stalled yet (still running, then retiring) is
// retried on every hook until it stalls, and pruned once.
func TestWorkerNotStalledIsRetried(t *testing.T) {
	t.Parallel()
	w := pruneWorld(t)
	leaveUnheard(t, w)
	lists := func() int {
		n := 0
		for _, c := range w.ATCCalls() {
			if c == "GET /api/v1/workers" {
				n++
			}
		}
		return n
	}
	before := lists()
	tick(t, w)
	w.SetWorkerState(ghost, concourse.WorkerRetiring)
	tick(t, w)
	assert.Equal(t, before+2, lists(), "each hook of web asks again")
	assert.Zero(t, prunes(w, ghost))
	assert.Equal(t, []string{ghost}, pending(t, w, "concourse/0"))
	assert.Contains(t, w.Model.Status("concourse/0").Message, "pruning worker "+ghost+" once it stalls (retiring now)")

	w.SetWorkerState(ghost, concourse.WorkerStalled)
	tick(t, w)
	assert.NotContains(t, w.Workers(), ghost)
	assert.Equal(t, 1, prunes(w, ghost))
	assert.Empty(t, pending(t, w, "concourse/0"))
	noHookFailed(t, w)
}

// A departed unit's worker that landed (its last stop landed it rather
// than retiring it) never comes back: web prunes it like a stalled one.
func TestDepartedLandedWorkerIsPruned(t *testing.T) {
	t.Parallel()
	w := pruneWorld(t)
	leaveUnheard(t, w)
	w.SetWorkerState(ghost, concourse.WorkerLanded)
	tick(t, w)
	assert.NotContains(t, w.Workers(), ghost)
	assert.Equal(t, 1, prunes(w, ghost))
	assert.Empty(t, pending(t, w, "concourse/0"))
	assert.Equal(t, "active: web 7.14.3; pruned landed worker "+ghost, w.Model.Status("concourse/0").String())
	noHookFailed(t, w)
}

// A worker that retired cleanly is no longer registered: that ends it,
// without a prune.
func TestWorkerNotRegisteredEndsIt(t *testing.T) {
	t.Parallel()
	w := pruneWorld(t)
	w.Model.RemoveUnit("concourse/2")
	require.NoError(t, w.Settle(context.Background(), 2000))
	tick(t, w)
	assert.NotContains(t, w.Workers(), ghost, "it retired")
	assert.Empty(t, pending(t, w, "concourse/0"))
	assert.Zero(t, prunes(w, ghost))
	assert.True(t, slices.ContainsFunc(w.Model.Logs("concourse/0"), func(l string) bool {
		return strings.Contains(l, "worker "+ghost+" of concourse/2 is not registered")
	}), "%v", w.Model.Logs("concourse/0"))
	assert.Equal(t, "active: web 7.14.3", w.Model.Status("concourse/0").String())
	noHookFailed(t, w)
}

// Web's API refuses connections: no hook fails, the status says what is
// pending, and the prune happens once web answers again.
func TestUnreachableWebDoesNotFailTheHook(t *testing.T) {
	t.Parallel()
	w := pruneWorld(t)
	w.Machine("concourse/2").SetDrainOutcome(services.Killed)
	w.ServeATC().Close() // a port nothing listens on
	w.Model.RemoveUnit("concourse/2")
	require.NoError(t, w.Settle(context.Background(), 2000))
	tick(t, w)
	noHookFailed(t, w)
	assert.Equal(t, concourse.WorkerStalled, w.Workers()[ghost])
	assert.Equal(t, []string{ghost}, pending(t, w, "concourse/0"))
	assert.Equal(t, "active: web 7.14.3; pruning stalled worker "+ghost+": web's API did not answer; retried on update-status",
		w.Model.Status("concourse/0").String())

	w.ServeATC()
	tick(t, w)
	assert.NotContains(t, w.Workers(), ghost)
	assert.Empty(t, pending(t, w, "concourse/0"))
	noHookFailed(t, w)
}

// Web's API accepts the connection and never answers: the hook gives up
// after its budget, succeeds, and keeps the worker pending. (The client
// has no timeout of its own: only the hook's budget ends the wait.)
func TestHangingWebHoldsTheHookOnlyForItsBudget(t *testing.T) {
	t.Parallel()
	w := pruneWorld(t)
	w.SetDown("concourse/2", true)
	w.Model.RemoveUnit("concourse/2")
	w.SetATCHang(true)
	settleUnit(t, w, "concourse/0")
	noHookFailed(t, w)
	assert.Equal(t, []string{ghost}, pending(t, w, "concourse/0"))
	assert.Contains(t, w.Model.Status("concourse/0").Message, "pruning stalled worker "+ghost+": web's API did not answer")
}

// A worker that never stalls (its machine still runs it) is given up
// after the drain timeout and an hour, with a line that says how to prune
// it by hand; then web's API is left alone.
func TestPruneIsGivenUpAfterItsBound(t *testing.T) {
	t.Parallel()
	w := pruneWorld(t)
	leaveUnheard(t, w)
	ticks := 0
	for len(pending(t, w, "concourse/0")) > 0 && ticks < 20 {
		tick(t, w)
		ticks++
	}
	assert.Equal(t, 14, ticks, "the default drain timeout (10m) and an hour, in update-status ticks of 5m")
	assert.Contains(t, w.Model.Status("concourse/0").Message,
		"gave up pruning worker "+ghost+" after 1h10m (running): prune it with fly once it stalls")
	assert.True(t, slices.ContainsFunc(w.Model.Logs("concourse/0"), func(l string) bool {
		return strings.HasPrefix(l, "WARNING gave up pruning worker "+ghost)
	}))
	assert.Empty(t, pending(t, w, "concourse/1"), "a unit without web forgets it too")
	calls := len(w.ATCCalls())
	tick(t, w)
	assert.Len(t, w.ATCCalls(), calls)
	assert.Equal(t, concourse.WorkerRunning, w.Workers()[ghost], "never pruned while it runs")
}

// A worker's own stop that the ATC did not hear: in mode auto the new
// leader stops its worker for good and runs web, and prunes its own ghost.
func TestOwnStalledWorkerIsPrunedByItsWeb(t *testing.T) {
	t.Parallel()
	w := pruneWorld(t)
	w.Machine("concourse/1").SetDrainOutcome(services.Terminated)
	w.Model.SetLeader("concourse/1")
	require.NoError(t, w.Converge(context.Background(), 5))
	tick(t, w)
	assert.NotContains(t, w.Workers(), "test-concourse-1")
	assert.Equal(t, 1, prunes(w, "test-concourse-1"))
	assert.Empty(t, pending(t, w, "concourse/1"))
	assert.Equal(t, concourse.WorkerRunning, w.Workers()["test-concourse-0"], "the former leader runs a worker now")
	noHookFailed(t, w)
	assert.Empty(t, w.Violations())
}

// A worker whose stop for an upgrade the ATC did not hear is queued on its
// own unit, and forgotten when it starts again (it registered anew): no
// prune of a worker that runs, and nothing left pending.
func TestOwnWorkerThatStartsAgainIsForgotten(t *testing.T) {
	t.Parallel()
	w := pruneWorld(t)
	w.Machine("concourse/1").SetDrainOutcome(services.NotHeard)
	startUpgrade(t, w, "7.14.4")
	runUntil(t, w, 500, phaseIs(fsm.PhaseDownloading))
	assert.Equal(t, []string{"test-concourse-1"}, pending(t, w, "concourse/1"), "its stop was not heard")
	settled(t, w)
	assert.Equal(t, concourse.WorkerRunning, w.Workers()["test-concourse-1"])
	assert.Empty(t, pending(t, w, "concourse/1"), "it runs again")
	assert.Zero(t, prunes(w, "test-concourse-1"))
}
