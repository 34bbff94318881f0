//go:build !unit

// Tests that need root (they mount): `make unit` (-tags unit) leaves them
// out; `make test` runs them.

package storage

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/fsutil"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/mounttest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fullDiskVolume opens a volume on a 1 MiB tmpfs whose lock file exists
// (some unit has held the lock before), as a dead holder would leave it.
func fullDiskVolume(t *testing.T) *Volume {
	t.Helper()
	root := t.TempDir()
	mounttest.Tmpfs(t, root, "1m")
	v, err := OpenVolume(root, clockAt(testEpoch))
	require.NoError(t, err)
	require.NoError(t, writeProbe(v))
	l, err := v.TryLock(Holder{Unit: "concourse/1"})
	require.NoError(t, err)
	require.NoError(t, l.Release())
	return v
}

// requireDiskFull proves that nothing more can be written on v.
func requireDiskFull(t *testing.T, v *Volume) {
	t.Helper()
	err := fsutil.WriteFile(v.Path("sanity"), []byte("x"), 0o644)
	require.ErrorIs(t, err, syscall.ENOSPC, "the fixture must fill the disk")
	assert.NoFileExists(t, v.Path("sanity"))
}

// A holder died while unpacking a release that filled the disk. Nothing can
// be written on the volume any more, yet the next unit opens it, takes the
// lock, and the lock's recovery removes the partial release and the marker,
// which gives the space back; the install then proceeds as usual.
func TestRecoverAfterDeadHolderFilledTheDisk(t *testing.T) {
	// Not parallel: a process that another test forks meanwhile holds copies
	// of our open files until it execs, so space we fill or free on the
	// tmpfs could come and go under the exact accounting this test needs.
	v := fullDiskVolume(t)
	// The dead holder: its marker (written without holding the lock, as if
	// the kernel had already freed it) and its partial unpack, which filled
	// the disk.
	dead := Progress{Unit: "concourse/1", PID: 99999, Version: ver("7.14.4"), Started: testEpoch}
	data, err := encodeMarker(dead)
	require.NoError(t, err)
	putFile(t, v.Path(ProgressFile), string(data))
	partial := v.Path(ReleasesDir, "7.14.4"+PartialInfix+"abc")
	fillDisk(t, filepath.Join(partial, "concourse", "bin", "concourse"))
	requireDiskFull(t, v)
	full, err := v.FSInfo()
	require.NoError(t, err)

	// Inspect says what holds the space, and that the lock is free.
	r, err := InspectPath(v.Root())
	require.NoError(t, err)
	low := problemOf(t, r, ProblemLowSpace)
	assert.Equal(t, v.Root(), low.Path)
	assert.Regexp(t, `^only [0-9.]+ (B|KiB) free, less than the 1.0 GiB a release may need; partial releases hold [0-9.]+ KiB \(lock free\)$`, low.Detail)
	assert.Equal(t, partial, problemOf(t, r, ProblemPartialRelease).Path)

	// Another unit opens the full volume: refused before the fix.
	v2, err := OpenVolume(v.Root(), clockAt(testEpoch.Add(time.Hour)))
	require.NoError(t, err, "a full volume with its layout opens, so the lock can recover it")
	require.ErrorIs(t, writeProbe(v2), ErrVolumeFull)
	require.ErrorIs(t, writeProbe(v2), syscall.ENOSPC)
	assert.Empty(t, listNames(t, v.Root(), ProbePrefix), "the failed probe is removed")

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // deadlock guard
	defer cancel()
	l, err := v2.Lock(ctx, Holder{Unit: "concourse/0"})
	require.NoError(t, err, "taking the lock writes nothing before recovery")
	defer l.Release()

	requireRecovered(t, l, dead)
	assert.Contains(t, l.Removed(), partial)
	assert.Contains(t, l.Removed(), v.Path(ProgressFile))
	assert.NoDirExists(t, partial)
	assert.NoFileExists(t, v.Path(ProgressFile))

	freed, err := v2.FSInfo()
	require.NoError(t, err)
	assert.Greater(t, freed.FreeBytes, full.FreeBytes+512<<10, "the partial release's space is back")
	// With the space back, the holder record was written after recovery.
	require.NoError(t, l.HolderRecordError())
	h, err := v2.Holder()
	require.NoError(t, err)
	require.NotNil(t, h)
	assert.Equal(t, "concourse/0", h.Unit)

	// While a live holder unpacks, Inspect says the lock is held, and does
	// not call its partial directory left over.
	putFile(t, filepath.Join(v.Path(ReleasesDir, "7.14.4"+PartialInfix+"def"), "f"), "x")
	r, err = InspectPath(v.Root())
	require.NoError(t, err)
	if low, found := findProblem(r, ProblemLowSpace); found {
		assert.Contains(t, low.Detail, "(lock held)")
	}
	_, found := findProblem(r, ProblemPartialRelease)
	assert.False(t, found, "a live holder's partial directory is not left over")
	require.NoError(t, os.RemoveAll(v.Path(ReleasesDir, "7.14.4"+PartialInfix+"def")))

	// The install goes on as usual: progress marker, release, switch.
	require.NoError(t, l.WriteProgress(ver("7.14.4")))
	stageFakeRelease(t, v2, "7.14.4")
	require.NoError(t, l.SwitchCurrent(ver("7.14.4"), 1))
	require.NoError(t, l.ClearProgress())
	iv, err := v2.ReadInstalledVersion()
	require.NoError(t, err)
	require.NotNil(t, iv)
	assert.Equal(t, ver("7.14.4"), iv.Version)
	assert.Equal(t, "concourse/0", iv.Unit)
}

// When the lock's recovery frees nothing (the disk is full of finished
// data), the lock is still taken: the holder record is advisory. Its error is
// kept for the caller to log, no record (nor a dead holder's stale one) is
// left, and a contender sees an unnamed holder.
func TestLockOnFullDiskWithoutHolderRecord(t *testing.T) {
	// Not parallel, for the reason given in TestRecoverAfterDeadHolderFilledTheDisk.
	v := fullDiskVolume(t)
	// A dead holder's leftover record; empty, because a real one holds a
	// tmpfs page whose release would make room for the new record.
	putFile(t, v.Path(LockHolderFile), "")
	finished := filepath.Join(v.ReleaseDir(ver("7.11.2")), "concourse", "bin", "concourse")
	fillDisk(t, finished)
	requireDiskFull(t, v)

	v2, err := OpenVolume(v.Root(), clockAt(testEpoch))
	require.NoError(t, err)
	require.ErrorIs(t, writeProbe(v2), ErrVolumeFull)
	l, err := v2.TryLock(Holder{Unit: "concourse/0"})
	require.NoError(t, err, "a holder record that cannot be written does not cost the lock")
	assert.Nil(t, l.Recovered())
	assert.Empty(t, l.Removed())

	err = l.HolderRecordError()
	require.ErrorIs(t, err, syscall.ENOSPC)
	assert.Contains(t, err.Error(), "the lock is held all the same")
	assert.NoFileExists(t, v.Path(LockHolderFile), "the dead holder's record is gone too")
	assert.Empty(t, listNames(t, v.Root(), TempInfix), "no temporary file is left")
	assert.FileExists(t, finished, "finished data is never removed")

	_, err = v2.TryLock(Holder{Unit: "concourse/1"})
	locked := requireLocked(t, err)
	assert.Nil(t, locked.Holder)
	assert.Contains(t, err.Error(), "has not written .lock.holder")

	require.NoError(t, l.Release())
	l, err = v2.TryLock(Holder{Unit: "concourse/1"})
	require.NoError(t, err, "free again after Release")
	require.NoError(t, l.Release())
}

// findProblem returns the first problem of kind in r.
func findProblem(r Report, kind ProblemKind) (Problem, bool) {
	for _, p := range r.Problems {
		if p.Kind == kind {
			return p, true
		}
	}
	return Problem{}, false
}

// problemOf is findProblem that fails the test when there is none.
func problemOf(t *testing.T, r Report, kind ProblemKind) Problem {
	t.Helper()
	p, found := findProblem(r, kind)
	require.True(t, found, "no %s problem in %v", kind, r.Problems)
	return p
}

// A marker written on a full disk is a *NoSpaceError that names the marker
// (not a release's unpack), keeps the system's error and says what is free;
// nothing of the marker is left.
func TestMarkerOnFullDisk(t *testing.T) {
	// Not parallel, for the reason given in TestRecoverAfterDeadHolderFilledTheDisk.
	v := fullDiskVolume(t)
	fillDisk(t, v.Path("fill"))
	requireDiskFull(t, v)
	l, err := v.TryLock(Holder{Unit: "concourse/0"})
	require.NoError(t, err)
	defer l.Release()

	err = l.WriteProgress(ver("7.14.4"))
	ns := requireNoSpace(t, err)
	require.ErrorIs(t, err, syscall.ENOSPC)
	assert.Equal(t, v.Root(), ns.Path)
	assert.Equal(t, ProgressFile, ns.File)
	assert.GreaterOrEqual(t, ns.Free, int64(0))
	assert.Less(t, ns.Free, int64(64<<10))
	assert.Regexp(t, `^no space left in `+regexp.QuoteMeta(v.Root())+` writing `+regexp.QuoteMeta(ProgressFile)+`: .*no space left on device; [0-9.]+ (B|KiB) free$`, err.Error())
	assert.NotContains(t, err.Error(), "unpacking")
	assert.NoFileExists(t, v.Path(ProgressFile))
	assert.Empty(t, listNames(t, v.Root(), TempInfix), "no temporary file is left")

	// The sharing token is a marker too.
	_, err = l.EnsureVolumeID()
	ns = requireNoSpace(t, err)
	assert.Equal(t, VolumeIDFile, ns.File)
	assert.NoFileExists(t, v.Path(VolumeIDFile))
}
