package charmtest

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/charm"
	"github.com/concourse-ci-machine/concourse-ci-machine/fsm"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/version"
	"github.com/concourse-ci-machine/concourse-ci-machine/relation/jujutest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The regression tests of the upgrade protocol under Juju's real rules:
// one for each hole found in the first design and one for each fault.
// Each drives the real charm on jujutest and ends with no invariant
// broken and the cluster at rest.

// deployed is a converged world of n units on 7.14.3 that can upgrade to
// 7.14.4.
func deployed(tb testing.TB, n int, opts Options) *World {
	tb.Helper()
	opts.Units = n
	if opts.Releases == nil {
		opts.Releases = []string{"7.14.3", "7.14.4"}
	}
	w := NewT(tb, opts)
	require.NoError(tb, w.Converge(context.Background(), 5))
	require.Empty(tb, w.Violations())
	return w
}

// upgradeAction runs the upgrade action on the leader to its end (of that
// action only).
func upgradeAction(tb testing.TB, w *World, target string) *jujutest.Action {
	tb.Helper()
	leader := w.Model.Leader(w.App)
	a := w.Model.RunAction(leader, fsm.ActionUpgrade, map[string]any{"version": target})
	for !a.Done {
		require.NoError(tb, w.Step(context.Background(), leader))
	}
	return a
}

// startUpgrade runs the upgrade action, which must succeed.
func startUpgrade(tb testing.TB, w *World, target string) {
	tb.Helper()
	a := upgradeAction(tb, w, target)
	require.False(tb, a.Failed, a.Message)
}

// runUntil steps ready units round-robin until cond holds on the committed
// record, at most max hooks.
func runUntil(tb testing.TB, w *World, max int, cond func(fsm.Record) bool) {
	tb.Helper()
	for i := 0; i < max; i++ {
		rec, err := w.Record()
		require.NoError(tb, err)
		if cond(rec) {
			return
		}
		ready := w.Ready()
		if len(ready) == 0 {
			w.Model.Tick(5 * time.Minute)
			continue
		}
		_ = w.Step(context.Background(), ready[i%len(ready)])
	}
	tb.Fatalf("condition not reached in %d hooks:\n%s", max, w.Model)
}

func phaseIs(ph fsm.Phase) func(fsm.Record) bool {
	return func(r fsm.Record) bool { return r.Phase == ph }
}

// settled checks that the world ends at rest with nothing broken (see
// Liveness) and returns the record it rests on.
func settled(tb testing.TB, w *World) fsm.Record {
	tb.Helper()
	require.NoError(tb, w.Liveness(context.Background()), "%s", w.Model)
	rec, err := w.Record()
	require.NoError(tb, err)
	return rec
}

// webRan lists the releases unit's web was started on.
func webRan(w *World, unit string) []string {
	var ran []string
	for _, line := range w.Machine(unit).Journal {
		if strings.Contains(line, "concourse-web-") && !strings.HasPrefix(line, "stop") {
			ran = append(ran, line[strings.LastIndex(line, " ")+1:])
		}
	}
	return ran
}

// Hole 1: the leader decides the next phase in a hook and, in the old
// design, acted on it in the same hook. Here every leader hook that writes
// a new record is cut off (or loses leadership) before Juju commits it, once:
// at that moment the committed record still says the old phase, and web
// must not have moved to the target.
func TestHole1NoActionOnAnUncommittedRecord(t *testing.T) {
	t.Parallel()
	for _, fault := range []string{"cut off", "leadership moved"} {
		t.Run(fault, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			w := deployed(t, 2, Options{})
			startUpgrade(t, w, "7.14.4")
			faulted := 0
			for i := 0; i < 300; i++ {
				ready := w.Ready()
				if len(ready) == 0 {
					rec, _ := w.Record()
					if rec.Phase == fsm.PhaseIdle {
						break
					}
					w.Model.Tick(5 * time.Minute)
					continue
				}
				u := ready[i%len(ready)]
				leader := w.Model.Leader(w.App)
				h := w.Begin(u)
				w.Run(ctx, h)
				if u != leader || !h.WroteApp() || faulted >= 6 {
					_ = w.Commit(h)
					continue
				}
				faulted++
				committed, _ := w.Record()
				if fault == "cut off" {
					w.CutOff(h)
				} else {
					w.Model.SetLeader(otherUnit(w, u))
					require.Error(t, w.Commit(h), "the old leader's record is refused")
				}
				if committed.Phase != fsm.PhaseComplete && !(committed.Phase == fsm.PhaseIdle && committed.Version == t2()) {
					for _, unit := range w.Model.Units(w.App) {
						assert.NotContains(t, webRan(w, unit), "7.14.4", "web ran the target while the committed record is %s", committed.Phase)
					}
				}
			}
			assert.Greater(t, faulted, 2)
			rec := settled(t, w)
			assert.Equal(t, "7.14.4", rec.Version.String())
		})
	}
}

func t2() version.Version { return version.MustParse("7.14.4") }

func otherUnit(w *World, unit string) string {
	for _, u := range w.Model.Units(w.App) {
		if u != unit {
			return u
		}
	}
	return unit
}

// Hole 2: an old leader's slow switch of `current` must not undo the new
// leader's. The leader reads DOWNLOADING and starts its switch; while the
// switch is slow, leadership moves, the new leader aborts and, in its next
// hook, points `current` back; then the old leader's switch reaches the
// volume. The fence refuses it, and the old leader's record is refused.
func TestHole2AnOldLeadersSwitchIsFenced(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := deployed(t, 2, Options{})
	startUpgrade(t, w, "7.14.4")
	runUntil(t, w, 200, phaseIs(fsm.PhaseDownloading))
	oldLeader := w.Model.Leader(w.App)
	newLeader := otherUnit(w, oldLeader)
	var slowed bool
	w.OnSwitch = func(unit string) {
		rec, _ := w.Record()
		if unit != oldLeader || slowed || rec.Phase != fsm.PhaseDownloading {
			return
		}
		slowed = true
		w.OnSwitch = nil
		w.Model.SetLeader(newLeader)
		abort := w.Model.RunAction(newLeader, fsm.ActionUpgradeAbort, map[string]any{"reason": "test"})
		for !abort.Done {
			require.NoError(t, w.Step(ctx, newLeader))
		}
		require.False(t, abort.Failed, abort.Message)
		w.Model.Tick(0) // the new leader acts on its committed abort
		for len(w.Model.Queue(newLeader)) > 0 {
			_ = w.Step(ctx, newLeader)
		}
		cur, err := currentOf(w.sharedDir())
		require.NoError(t, err)
		require.Equal(t, "7.14.3", cur.String(), "the new leader pointed current back")
	}
	w.Model.Tick(0)
	h := w.Begin(oldLeader)
	w.Run(ctx, h) // reads DOWNLOADING, switches slowly
	require.True(t, slowed, "the old leader tried to switch")
	require.Error(t, w.Commit(h), "the old leader's writes are refused: it is not the leader")
	cur, err := currentOf(w.sharedDir())
	require.NoError(t, err)
	assert.Equal(t, "7.14.3", cur.String(), "the stale switch was fenced off")
	rec := settled(t, w)
	assert.Equal(t, "7.14.3", rec.Version.String())
	assert.Equal(t, fsm.OutcomeAborted, rec.Outcome)
}

// Hole 3a: a unit added during an upgrade, whose install runs before the
// leader hears of it, starts nothing until a committed record counts it in.
func TestHole3NewUnitRunsNothingUntilCounted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := deployed(t, 2, Options{})
	startUpgrade(t, w, "7.14.4")
	u, err := w.AddUnit()
	require.NoError(t, err)
	// The new unit runs its whole deploy sequence first.
	for _, hook := range []string{"concourse-data-storage-attached", "install", "peers-relation-created", "postgresql-relation-created", "leader-settings-changed", "config-changed", "start"} {
		require.Equal(t, hook, w.Model.Queue(u)[0].Hook)
		require.NoError(t, w.Step(ctx, u))
		assert.Empty(t, w.Machine(u).Running(), "%s runs nothing before a committed record lists it (after %s)", u, hook)
	}
	assert.Equal(t, "waiting", string(w.Model.Status(u).State))
	rec := settled(t, w)
	assert.Equal(t, "7.14.4", rec.Version.String())
	assert.True(t, rec.IsMember(u))
	assert.Equal(t, "7.14.4", w.Machine(u).Running()[charm.RoleWorker].String())
}

// Hole 3b: a unit acting on a stale view never moves the shared `current`:
// on a shared volume only the leader points it. A unit reads PREPARE, and
// acts only after the leader has switched to the target.
func TestHole3StaleUnitNeverMovesCurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := deployed(t, 3, Options{})
	startUpgrade(t, w, "7.14.4")
	// Until every unit but the leader has reported its worker stopped: the
	// record is still PREPARE (the leader's report comes with its decision).
	runUntil(t, w, 300, func(r fsm.Record) bool {
		for _, u := range r.Members {
			if u == w.Model.Leader(w.App) {
				continue
			}
			if a, err := w.Ack(u); err != nil || a.Generation != r.Generation || !a.WorkerStopped {
				return false
			}
		}
		return r.Phase == fsm.PhasePrepare
	})
	w.Model.Tick(0)
	stale := w.Begin("concourse/2") // its view: PREPARE, current wanted on 7.14.3
	for i := 0; i < 300; i++ {
		cur, err := currentOf(w.sharedDir())
		require.NoError(t, err)
		if cur.String() == "7.14.4" {
			break
		}
		ready := w.Ready()
		if len(ready) == 0 {
			w.Model.Tick(0)
			continue
		}
		_ = w.Step(ctx, ready[i%len(ready)])
	}
	w.Run(ctx, stale)
	_ = w.Commit(stale)
	cur, err := currentOf(w.sharedDir())
	require.NoError(t, err)
	assert.Equal(t, "7.14.4", cur.String(), "the stale unit left current where the leader put it")
	settled(t, w)
}

// Hole 3c: a unit removed while it drains is not waited for; `current`
// moves, but its worker keeps running the release directory its unit file
// pins, which pruning keeps while the volume's registry says it is in use.
func TestHole3DepartingUnitKeepsItsRelease(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := deployed(t, 3, Options{Config: map[string]any{"keep-releases": 1}, Releases: []string{"7.14.3", "7.14.4", "7.15.0"}})
	startUpgrade(t, w, "7.14.4")
	w.Model.RemoveUnit("concourse/2")
	w.SetDown("concourse/2", true) // it drains for a long time: no hook of it runs
	runUntil(t, w, 500, func(r fsm.Record) bool { return r.Phase == fsm.PhaseIdle && r.Version == t2() })
	assert.Equal(t, "7.14.3", w.Machine("concourse/2").Running()[charm.RoleWorker].String())
	startUpgrade(t, w, "7.15.0") // staging 7.15.0 prunes with keep-releases=1
	assert.DirExists(t, filepath.Join(w.sharedDir(), "releases", "7.14.3"), "the departing worker's release is kept")
	w.SetDown("concourse/2", false)
	require.NoError(t, w.Settle(ctx, 2000))
	assert.Empty(t, w.Machine("concourse/2").Running(), "once it has left, its services are gone")
	settled(t, w)
}

// Per-unit clocks that differ by minutes: a leader that takes over counts
// the prepare timeout on its own clock from when it first saw the phase,
// so a clock behind (or ahead) never aborts early.
func TestClocksThatDisagreeNeverAbortEarly(t *testing.T) {
	t.Parallel()
	w := deployed(t, 3, Options{})
	w.Model.SetSkew("concourse/0", 30*time.Minute) // the initiating leader's clock runs ahead
	w.Model.SetSkew("concourse/1", -30*time.Minute)
	w.SetDown("concourse/2", true) // keeps PREPARE waiting
	startUpgrade(t, w, "7.14.4")
	runUntil(t, w, 50, func(fsm.Record) bool { return len(w.Ready()) == 0 })
	w.Model.SetLeader("concourse/1")
	ctx := context.Background()
	require.NoError(t, w.Settle(ctx, 500))
	w.Model.Tick(5 * time.Minute)
	require.NoError(t, w.Settle(ctx, 500))
	rec, err := w.Record()
	require.NoError(t, err)
	assert.Equal(t, fsm.PhasePrepare, rec.Phase, "5 minutes into the new leader's count: not yet")
	w.Model.Tick(6 * time.Minute)
	require.NoError(t, w.Settle(ctx, 500))
	rec, err = w.Record()
	require.NoError(t, err)
	assert.Equal(t, fsm.PhaseIdle, rec.Phase, "past the timeout on the new leader's own clock: aborted")
	assert.Contains(t, rec.LastError, "concourse/2")
	settled(t, w)
}

// A worker that never answers: the upgrade aborts at the prepare timeout,
// naming it, and everyone runs the previous release again.
func TestWorkerThatNeverAnswers(t *testing.T) {
	t.Parallel()
	w := deployed(t, 3, Options{})
	w.SetDown("concourse/2", true)
	startUpgrade(t, w, "7.14.4")
	runUntil(t, w, 500, func(r fsm.Record) bool { return r.Phase == fsm.PhaseIdle })
	rec, _ := w.Record()
	assert.Equal(t, fsm.OutcomeAborted, rec.Outcome)
	assert.Contains(t, rec.LastError, "units not stopped: concourse/2")
	rec = settled(t, w)
	assert.Equal(t, "7.14.3", rec.Version.String())
	st, _ := w.Model.AppStatus(w.App)
	assert.Contains(t, st.Message, "aborted by the leader", "the leader says the last upgrade was aborted")
	assert.Contains(t, st.Message, "Again: juju run concourse/leader upgrade version=7.14.4")
}

// A download that fails on a unit that keeps its own copy: the upgrade
// fails, every unit runs the previous release, the status names the
// command; a retry then goes through.
func TestDownloadFailureThenRetry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := deployed(t, 3, Options{Apart: []string{"concourse/2"}})
	startUpgrade(t, w, "7.14.4") // the leader gets it onto the shared volume
	w.FailDownloads("7.14.4", 5) // the unit with its own copy cannot
	runUntil(t, w, 500, phaseIs(fsm.PhaseFailed))
	require.NoError(t, w.Settle(ctx, 500))
	st, _ := w.Model.AppStatus(w.App)
	assert.Contains(t, st.Message, "juju run concourse/leader upgrade-retry")
	for _, u := range w.Model.Units(w.App) {
		for role, v := range w.Machine(u).Running() {
			assert.Equal(t, "7.14.3", v.String(), "%s %s runs the previous release while failed", u, role)
		}
	}
	w.failNext["7.14.4"] = 0
	a := w.Model.RunAction("concourse/0", fsm.ActionUpgradeRetry, nil)
	require.NoError(t, w.Settle(ctx, 1000))
	require.False(t, a.Failed, a.Message)
	again := w.Model.RunAction("concourse/0", fsm.ActionUpgradeRetry, nil)
	require.NoError(t, w.Settle(ctx, 1000))
	assert.False(t, again.Failed, "a second retry says it is already done: %s", again.Message)
	rec := settled(t, w)
	assert.Equal(t, "7.14.4", rec.Version.String())
}

// A machine that reboots mid-upgrade: systemd starts every enabled unit
// before any hook runs. A worker stopped for the upgrade is disabled, so
// it stays down; after the upgrade an enabled worker comes back on its
// release.
func TestRebootMidUpgrade(t *testing.T) {
	t.Parallel()
	w := deployed(t, 3, Options{})
	startUpgrade(t, w, "7.14.4")
	runUntil(t, w, 300, phaseIs(fsm.PhaseDownloading))
	w.Reboot("concourse/1")
	assert.Empty(t, w.Machine("concourse/1").Running(), "a worker stopped for the upgrade does not start at boot")
	settled(t, w)
	w.Reboot("concourse/2")
	assert.Equal(t, "7.14.4", w.Machine("concourse/2").Running()[charm.RoleWorker].String())
	settled(t, w)
}

// A wiped application bag: units do not act on the record that went back;
// the leader rebuilds it from the acks and the volume, and neither the
// generation nor the revision goes back.
func TestWipedApplicationBag(t *testing.T) {
	t.Parallel()
	w := deployed(t, 3, Options{})
	startUpgrade(t, w, "7.14.4")
	runUntil(t, w, 300, phaseIs(fsm.PhaseComplete))
	before, _ := w.Record()
	w.Model.WipeAppBag(w.App)
	w.Model.Tick(time.Minute)
	rec := settled(t, w)
	assert.Greater(t, rec.Generation, before.Generation)
	assert.Greater(t, rec.Revision, before.Revision)
	assert.Equal(t, "7.14.4", rec.Version.String(), "`current` (switched in downloading) decides")
}

// Every hook cut off once, at random points of an upgrade, converges.
func TestEveryHookCutOffOnceConverges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := deployed(t, 3, Options{})
	startUpgrade(t, w, "7.14.4")
	cut := map[string]bool{}
	for i := 0; i < 500; i++ {
		ready := w.Ready()
		if len(ready) == 0 {
			break
		}
		u := ready[i%len(ready)]
		h := w.Begin(u)
		w.Run(ctx, h)
		key := fmt.Sprintf("%s %s", u, h.Event)
		if !cut[key] {
			cut[key] = true
			w.CutOff(h)
			continue
		}
		_ = w.Commit(h)
	}
	rec := settled(t, w)
	assert.Equal(t, "7.14.4", rec.Version.String())
	assert.Greater(t, len(cut), 5)
}
