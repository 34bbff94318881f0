package charmtest

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/charm"
	"github.com/concourse-ci-machine/concourse-ci-machine/fsm"
	"github.com/concourse-ci-machine/concourse-ci-machine/relation/jujutest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDeployThreeUnitsOneDownload(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := NewT(t, Options{Units: 3, Releases: []string{"7.14.3", "7.14.4"}})
	require.NoError(t, w.Converge(ctx, 5), "%s\n%v", w.Model, w.Model.Trace())
	assert.Empty(t, w.Violations())
	assert.Equal(t, 1, w.Downloads("7.14.3"))
	rec, err := w.Record()
	require.NoError(t, err)
	assert.Equal(t, fsm.PhaseIdle, rec.Phase)
	assert.Equal(t, "7.14.3", rec.Version.String())
	assert.Equal(t, []string{"concourse/0", "concourse/1", "concourse/2"}, rec.Members)
	for _, u := range []string{"concourse/0", "concourse/1", "concourse/2"} {
		t.Logf("%s: %s", u, w.Model.Status(u))
	}
	st, ver := w.Model.AppStatus("concourse")
	t.Logf("app: %s (%s)", st, ver)
}

// run queues an action and settles the model.
func run(t *testing.T, w *World, unit, action string, params map[string]any) *jujutest.Action {
	t.Helper()
	a := w.Model.RunAction(unit, action, params)
	require.NoError(t, w.Settle(context.Background(), 10000))
	require.True(t, a.Done)
	return a
}

func TestUpgradeFiveUnitsEndsIdleOnTheNewReleaseWithOneDownload(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := NewT(t, Options{Units: 5, Releases: []string{"7.14.3", "7.14.4"}})
	require.NoError(t, w.Converge(ctx, 5))
	hooksBefore := w.Model.HooksRun()

	a := run(t, w, "concourse/0", fsm.ActionUpgrade, map[string]any{"version": "7.14.4"})
	require.False(t, a.Failed, a.Message)
	assert.Equal(t, "prepare", a.Results["phase"])
	require.NoError(t, w.Converge(ctx, 3), "%s", w.Model)
	assert.Empty(t, w.Violations())
	rec, err := w.Record()
	require.NoError(t, err)
	assert.Equal(t, fsm.PhaseIdle, rec.Phase)
	assert.Equal(t, "7.14.4", rec.Version.String())
	assert.Equal(t, fsm.OutcomeFinished, rec.Outcome)
	assert.Equal(t, 1, w.Downloads("7.14.4"), "one download for the cluster")
	for _, u := range w.Model.Units("concourse") {
		for role, v := range w.Machine(u).Running() {
			assert.Equal(t, "7.14.4", v.String(), "%s %s", u, role)
		}
	}
	t.Logf("upgrade: %d hooks, model time %s", w.Model.HooksRun()-hooksBefore, w.Model.ModelTime().Sub(Epoch))
}

func TestSecondUpgradeWhileOneRunsIsRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := NewT(t, Options{Units: 3, Releases: []string{"7.14.3", "7.14.4", "7.15.0"}})
	require.NoError(t, w.Converge(ctx, 5))
	a := w.Model.RunAction("concourse/0", fsm.ActionUpgrade, map[string]any{"version": "7.14.4"})
	require.NoError(t, w.Step(ctx, "concourse/0"))
	require.False(t, a.Failed, a.Message)
	b := run(t, w, "concourse/0", fsm.ActionUpgrade, map[string]any{"version": "7.15.0"})
	// Depending on how far the first one got, the second is refused or
	// (once the first is complete) moves forward; never two at once.
	rec, err := w.Record()
	require.NoError(t, err)
	if b.Failed {
		assert.Contains(t, b.Message, "not possible")
		assert.Equal(t, 0, w.Downloads("7.15.0"), "a refused upgrade downloads nothing")
	} else {
		assert.Equal(t, "7.15.0", rec.TargetVersion.String())
	}
	same := run(t, w, "concourse/0", fsm.ActionUpgrade, map[string]any{"version": rec.TargetVersion.String()})
	if rec.Phase != fsm.PhaseIdle {
		assert.False(t, same.Failed, "asking again for the target under way is not a failure: %s", same.Message)
		assert.Contains(t, same.Results["message"], "already upgrading")
	}
	require.NoError(t, w.Converge(ctx, 3))
	assert.Empty(t, w.Violations())
}

func TestUpgradeRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := NewT(t, Options{Units: 2, Releases: []string{"7.14.3"}})
	require.NoError(t, w.Converge(ctx, 5))
	for _, tc := range []struct {
		unit, version, message string
	}{
		{"concourse/1", "7.14.4", "juju run concourse/leader upgrade"},
		{"concourse/0", "latest", "is not a Concourse release version"},
		{"concourse/0", "7.14.3", "already the settled release"},
		{"concourse/0", "7.14.9", "No .sha1 for Concourse 7.14.9: wrong version?"},
	} {
		a := run(t, w, tc.unit, fsm.ActionUpgrade, map[string]any{"version": tc.version})
		assert.True(t, a.Failed, tc.version)
		assert.Contains(t, a.Message, tc.message, tc.version)
		assert.LessOrEqual(t, len(a.Message), 120)
	}
	rec, err := w.Record()
	require.NoError(t, err)
	assert.Equal(t, fsm.PhaseIdle, rec.Phase, "a refused upgrade changes nothing")
	for _, u := range w.Model.Units("concourse") {
		assert.NotEmpty(t, w.Machine(u).Running(), "no worker stopped for a release that cannot be had")
	}
}

func TestUnitAddedLaterDownloadsNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := NewT(t, Options{Units: 3, Releases: []string{"7.14.3"}})
	require.NoError(t, w.Converge(ctx, 5))
	_, err := w.AddUnit()
	require.NoError(t, err)
	require.NoError(t, w.Converge(ctx, 5))
	assert.Equal(t, 1, w.Downloads("7.14.3"))
	assert.Equal(t, "active: worker 7.14.3", w.Model.Status("concourse/3").String())
	assert.Empty(t, w.Violations())
}

// A unit whose storage is not the shared volume finds out through the
// token, installs its own copy, and the leader names it.
func TestUnitNotSharingInstallsItsOwnCopyAndIsNamed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := NewT(t, Options{Units: 3, Releases: []string{"7.14.3", "7.14.4"}, Apart: []string{"concourse/2"}})
	require.NoError(t, w.Converge(ctx, 5))
	assert.Equal(t, 2, w.Downloads("7.14.3"), "one for the shared volume, one for the unit's own")
	st, _ := w.Model.AppStatus("concourse")
	assert.Contains(t, st.Message, "own copy: concourse/2")

	run(t, w, "concourse/0", fsm.ActionUpgrade, map[string]any{"version": "7.14.4"})
	require.NoError(t, w.Converge(ctx, 3))
	assert.Equal(t, 2, w.Downloads("7.14.4"))
	assert.Empty(t, w.Violations())
}

func TestModeAll(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := NewT(t, Options{Units: 2, Releases: []string{"7.14.3", "7.14.4"}, Config: map[string]any{"mode": "all"}})
	require.NoError(t, w.Converge(ctx, 5))
	for _, u := range w.Model.Units("concourse") {
		assert.Equal(t, "active: web+worker 7.14.3", w.Model.Status(u).String())
		assert.Len(t, w.Machine(u).Running(), 2)
	}
	run(t, w, "concourse/0", fsm.ActionUpgrade, map[string]any{"version": "7.14.4"})
	require.NoError(t, w.Converge(ctx, 3))
	for _, u := range w.Model.Units("concourse") {
		assert.Equal(t, "active: web+worker 7.14.4; to match, juju config concourse version=7.14.4", w.Model.Status(u).String(),
			"upgraded by the action, the config still says 7.14.3: the status says how to make them agree")
	}
	assert.Empty(t, w.Violations())
}

// Key hashes every volume: a clone hashes as its world does until one
// volume changes, whichever it is (a second application's shared volume,
// an apart unit's of either application); else the explorer would prune
// a state it never explored.
func TestKeyCoversEveryVolume(t *testing.T) {
	t.Parallel()
	for _, volume := range []string{"shared-volume", "shared-volume-other", "volume-1", "volume-other-1"} {
		t.Run(volume, func(t *testing.T) {
			t.Parallel()
			w := NewT(t, Options{Units: 2, Apart: []string{"concourse/1"}, Releases: []string{"7.14.3"}})
			require.NoError(t, w.Deploy(Options{App: "other", Units: 2, Apart: []string{"other/1"}, Postgres: PostgresAbsent}))
			c, err := w.Clone(t.TempDir())
			require.NoError(t, err)
			require.Equal(t, w.Key(), c.Key(), "a clone hashes as its world")
			require.NoError(t, os.MkdirAll(filepath.Join(c.Dir, volume, "releases", "7.14.3"), 0o755))
			assert.NotEqual(t, w.Key(), c.Key(), "the worlds differ only in %s", volume)
		})
	}
}

// A test's own volume options and wrapper leave the world's checks on: the
// world still fails the downloads it was asked to and counts the rest.
func TestCustomVolumeKeepsTheChecks(t *testing.T) {
	t.Parallel()
	w := NewT(t, Options{Units: 2, Releases: []string{"7.14.3"},
		VolumeOptions: func(o *charm.VolumeOptions) { o.StageWait = time.Minute },
		WrapVolume:    func(v charm.Volume) charm.Volume { return struct{ charm.Volume }{v} }})
	w.FailDownloads("7.14.3", 1)
	require.NoError(t, w.Converge(context.Background(), 5), "%s", w.Model)
	assert.Empty(t, w.Violations())
	w.mu.Lock()
	defer w.mu.Unlock()
	assert.Zero(t, w.failNext["7.14.3"], "the download failed as asked")
	assert.Equal(t, map[string]int{"shared-volume 7.14.3": 1}, w.downloads, "the world counted the download")
}
