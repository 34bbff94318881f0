package storage

import (
	"errors"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fencedVolume has releases 1.0.0 to 3.0.0 staged and a lock held by
// concourse/0 at testEpoch.
func fencedVolume(t *testing.T) (*Volume, *Lock) {
	t.Helper()
	v := testVolume(t, clockAt(testEpoch))
	for _, r := range []string{"1.0.0", "2.0.0", "3.0.0"} {
		stageFakeRelease(t, v, r)
	}
	l, err := v.TryLock(Holder{Unit: "concourse/0"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Release() })
	return v, l
}

// requirePoints checks `current`, the fence and the installed marker.
func requirePoints(t *testing.T, v *Volume, want string, revision uint64) {
	t.Helper()
	cur, err := v.CurrentVersion()
	require.NoError(t, err)
	assert.Equal(t, want, cur.String(), "current")
	fence, err := v.CurrentFence()
	require.NoError(t, err)
	assert.Equal(t, want, fence.Version.String(), "fence version")
	assert.Equal(t, revision, fence.Revision, "fence revision")
	iv, err := v.ReadInstalledVersion()
	require.NoError(t, err)
	require.NotNil(t, iv)
	assert.Equal(t, want, iv.Version.String(), "installed marker")
}

func TestSwitchCurrentIsFenced(t *testing.T) {
	t.Parallel()
	v, l := fencedVolume(t)
	fence, err := v.CurrentFence()
	require.NoError(t, err)
	assert.Equal(t, Fence{}, fence, "no fence before the first switch")

	require.NoError(t, l.SwitchCurrent(ver("1.0.0"), 0), "a first install switches at revision 0")
	requirePoints(t, v, "1.0.0", 0)
	fence, err = v.CurrentFence()
	require.NoError(t, err)
	assert.Equal(t, Fence{Version: ver("1.0.0"), Revision: 0, Unit: "concourse/0", At: testEpoch}, fence)

	require.NoError(t, l.SwitchCurrent(ver("2.0.0"), 5))
	requirePoints(t, v, "2.0.0", 5)

	before := treeSnapshot(t, v.Root())
	err = l.SwitchCurrent(ver("1.0.0"), 4)
	stale, ok := errors.AsType[*StaleSwitchError](err)
	require.True(t, ok, "an older decision is refused: %v", err)
	assert.Equal(t, StaleSwitchError{Have: 5, Got: 4, Fenced: ver("2.0.0")}, *stale)
	assert.Equal(t, "switch of current at revision 4 refused: the fence is at revision 5 (2.0.0)", err.Error())

	err = l.SwitchCurrent(ver("3.0.0"), 5)
	conflict, ok := errors.AsType[*SwitchConflictError](err)
	require.True(t, ok, "one revision names one version: %v", err)
	assert.Equal(t, SwitchConflictError{Revision: 5, Fenced: ver("2.0.0"), Asked: ver("3.0.0")}, *conflict)

	require.NoError(t, l.SwitchCurrent(ver("2.0.0"), 5), "the same decision again is a no-op")
	assert.Equal(t, before, treeSnapshot(t, v.Root()), "refusals and the no-op change nothing")

	require.NoError(t, l.SwitchCurrent(ver("1.0.0"), 6), "a newer decision may go back to an older release")
	requirePoints(t, v, "1.0.0", 6)
}

// A crash between the fence and the link leaves the fence naming the new
// release and `current` the old one: the same decision again finishes it.
func TestSwitchCurrentRepairsAfterACrashBetweenFenceAndLink(t *testing.T) {
	t.Parallel()
	v, l := fencedVolume(t)
	require.NoError(t, l.SwitchCurrent(ver("1.0.0"), 1))
	// The fence of revision 2 was written, then the holder died.
	require.NoError(t, v.writeMarker(v.Path(CurrentFenceFile), Fence{Version: ver("2.0.0"), Revision: 2, Unit: "concourse/3", At: testEpoch}))

	require.NoError(t, l.SwitchCurrent(ver("2.0.0"), 2))
	requirePoints(t, v, "2.0.0", 2)
	fence, err := v.CurrentFence()
	require.NoError(t, err)
	assert.Equal(t, "concourse/3", fence.Unit, "the fence is kept as it was: the decision is the same")
}

// The highest revision never goes back, also when `current` is removed.
func TestSwitchCurrentFenceSurvivesARemovedCurrent(t *testing.T) {
	t.Parallel()
	v, l := fencedVolume(t)
	require.NoError(t, l.SwitchCurrent(ver("2.0.0"), 7))
	require.NoError(t, os.Remove(v.Path(CurrentLink)))

	_, stale := errors.AsType[*StaleSwitchError](l.SwitchCurrent(ver("1.0.0"), 3))
	assert.True(t, stale)
	_, err := os.Lstat(v.Path(CurrentLink))
	assert.ErrorIs(t, err, os.ErrNotExist, "a refused switch does not recreate current")

	require.NoError(t, l.SwitchCurrent(ver("2.0.0"), 7), "the fenced decision puts it back")
	requirePoints(t, v, "2.0.0", 7)
}

// Switching needs a staged release, a `current` the charm made and the lock;
// a refusal changes nothing.
func TestSwitchCurrentRefusals(t *testing.T) {
	t.Parallel()
	v, l := fencedVolume(t)
	require.NoError(t, l.SwitchCurrent(ver("1.0.0"), 1))
	before := treeSnapshot(t, v.Root())

	require.ErrorIs(t, l.SwitchCurrent(ver("9.0.0"), 2), ErrReleaseNotStaged)
	assert.Equal(t, before, treeSnapshot(t, v.Root()))

	require.NoError(t, os.Remove(v.Path(CurrentLink)))
	require.NoError(t, os.Mkdir(v.Path(CurrentLink), 0o755))
	require.ErrorIs(t, l.SwitchCurrent(ver("2.0.0"), 2), ErrCurrentNotSymlink)
	fence, err := v.CurrentFence()
	require.NoError(t, err)
	assert.Equal(t, uint64(1), fence.Revision, "refused before the fence moved")

	require.NoError(t, l.Release())
	require.ErrorIs(t, l.SwitchCurrent(ver("2.0.0"), 3), ErrLockReleased)
}

// The order of a switch: the fence is durable before the link moves (the
// intent, then the act), the link's rename is made durable, and the
// installed marker comes last.
func TestSwitchCurrentWritesTheFenceFirst(t *testing.T) {
	t.Parallel()
	rec := &orderRecorder{}
	v := testVolume(t, withDurability(rec))
	stageFakeRelease(t, v, "1.0.0")
	l, err := v.TryLock(Holder{Unit: "concourse/0"})
	require.NoError(t, err)
	defer l.Release()
	rec.watch = func(op string) {
		if op != "rename "+CurrentLink {
			return
		}
		fence, err := v.CurrentFence()
		assert.NoError(t, err)
		assert.Equal(t, ver("1.0.0"), fence.Version, "the fence names the release before the link moves")
		assert.NoFileExists(t, v.Path(InstalledVersionFile), "the installed marker comes after the link")
	}
	require.NoError(t, l.SwitchCurrent(ver("1.0.0"), 1))
	assert.Equal(t, []string{"rename " + CurrentLink, "syncdir ."}, rec.ops(v))
	requirePoints(t, v, "1.0.0", 1)
}
