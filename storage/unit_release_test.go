package storage

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/version"
)

func TestUnitReleaseRegistry(t *testing.T) {
	t.Parallel()
	v := testVolume(t, clockAt(testEpoch))
	for _, r := range []string{"1.0.0", "2.0.0"} {
		stageFakeRelease(t, v, r)
	}
	got, err := v.UnitReleases()
	require.NoError(t, err)
	assert.Empty(t, got)

	l, err := v.TryLock(Holder{Unit: "concourse/0"})
	require.NoError(t, err)
	defer l.Release()
	require.NoError(t, l.SetUnitRelease("concourse/0", ver("1.0.0")))
	require.NoError(t, l.SetUnitRelease("concourse/1", ver("1.0.0")))
	require.NoError(t, l.SetUnitRelease("concourse/1", ver("2.0.0")), "a unit moves to another release")
	got, err = v.UnitReleases()
	require.NoError(t, err)
	assert.Equal(t, map[string]version.Version{"concourse/0": ver("1.0.0"), "concourse/1": ver("2.0.0")}, got)
	fi, err := os.Stat(v.Path(WorkersDir, "concourse-1"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(WorkerDirMode), fi.Mode().Perm(), "the unit's worker directory, made if needed")
	fi, err = os.Stat(v.Path(WorkersDir, "concourse-1", UnitReleaseFile))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(FileMode), fi.Mode().Perm())

	require.NoError(t, v.ClearUnitRelease("concourse/1"))
	require.NoError(t, v.ClearUnitRelease("concourse/1"), "idempotent")
	require.NoError(t, v.ClearUnitRelease("concourse/7"), "a unit that never recorded one")
	got, err = v.UnitReleases()
	require.NoError(t, err)
	assert.Equal(t, map[string]version.Version{"concourse/0": ver("1.0.0")}, got)
	assert.DirExists(t, v.Path(WorkersDir, "concourse-1"), "the worker directory stays")
}

// A unit records only a staged release, under the lock, with a name that
// is a unit's; a refusal writes nothing.
func TestSetUnitReleaseRefusals(t *testing.T) {
	t.Parallel()
	v := testVolume(t)
	stageFakeRelease(t, v, "1.0.0")
	l, err := v.TryLock(Holder{Unit: "concourse/0"})
	require.NoError(t, err)
	before := treeSnapshot(t, v.Root())

	require.ErrorIs(t, l.SetUnitRelease("concourse/0", ver("3.0.0")), ErrReleaseNotStaged)
	requireValueError(t, l.SetUnitRelease("../0", ver("1.0.0")), FieldUnitName)
	requireValueError(t, l.SetUnitRelease("concourse/0", version.Version{}), FieldVersion)
	requireValueError(t, v.ClearUnitRelease("a/b"), FieldUnitName)
	assert.Equal(t, before, treeSnapshot(t, v.Root()))

	require.NoError(t, l.Release())
	require.ErrorIs(t, l.SetUnitRelease("concourse/0", ver("1.0.0")), ErrLockReleased)
}

// An entry that cannot be trusted is reported with its path, never skipped:
// pruning would then remove a release in use.
func TestUnitReleasesRefusesCorruptEntries(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, content string }{
		{"not JSON", "{"},
		{"another unit's entry", `{"unit": "concourse/1", "version": "1.0.0"}`},
		{"no version", `{"unit": "concourse/0"}`},
		{"bad unit", `{"unit": "../x", "version": "1.0.0"}`},
	} {
		v := testVolume(t)
		path := v.Path(WorkersDir, "concourse-0", UnitReleaseFile)
		putFile(t, path, tc.content)
		_, err := v.UnitReleases()
		ce, ok := errors.AsType[*CorruptMarkerError](err)
		require.True(t, ok, "%s: %v", tc.name, err)
		assert.Equal(t, path, ce.Path, tc.name)
	}
	v := testVolume(t)
	putFile(t, filepath.Join(v.Path(WorkersDir), "notes.txt"), "not a unit")
	got, err := v.UnitReleases()
	require.NoError(t, err, "files beside the units' directories are not entries")
	assert.Empty(t, got)
}
