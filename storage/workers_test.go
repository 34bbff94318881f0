package storage

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWorkerDir(t *testing.T) {
	t.Parallel()
	v := testVolume(t)
	tests := map[string]string{
		"concourse/0":            "concourse-0",
		"concourse/12":           "concourse-12",
		"concourse-ci-machine/3": "concourse-ci-machine-3",
		"a-1/2":                  "a-1-2",
	}
	for unit, name := range tests {
		dir, err := v.WorkerDir(unit)
		require.NoError(t, err, unit)
		assert.Equal(t, v.Path(WorkersDir, name), dir)
		fi, err := os.Lstat(dir)
		require.NoError(t, err)
		assert.True(t, fi.IsDir())
		assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm(), unit)

		again, err := v.WorkerDir(unit)
		require.NoError(t, err, "idempotent")
		assert.Equal(t, dir, again)
	}
}

func TestWorkerDirFixesMode(t *testing.T) {
	t.Parallel()
	v := testVolume(t)
	require.NoError(t, os.Mkdir(v.Path(WorkersDir, "concourse-0"), 0o755))
	putFile(t, v.Path(WorkersDir, "concourse-0", "state"), "kept")
	dir, err := v.WorkerDir("concourse/0")
	require.NoError(t, err)
	fi, err := os.Stat(dir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm())
	assert.FileExists(t, filepath.Join(dir, "state"), "contents are kept")
}

// Bad unit names never reach the filesystem.
func TestWorkerDirRefusesBadNames(t *testing.T) {
	t.Parallel()
	v := testVolume(t)
	before := treeSnapshot(t, v.Root())
	for _, unit := range []string{"", "..", "../0", "a/../../../etc", "a/0/..", "a/0/b", "/etc/0", "a\x00/0", "A/0", "a/b"} {
		dir, err := v.WorkerDir(unit)
		requireValueError(t, err, FieldUnitName, "%q", unit)
		assert.Empty(t, dir)
	}
	assert.Equal(t, before, treeSnapshot(t, v.Root()), "nothing created")
}

// A symlink planted where a worker directory belongs cannot lead out of the
// volume.
func TestWorkerDirRefusesSymlinkEscape(t *testing.T) {
	t.Parallel()
	v := testVolume(t)
	outside := t.TempDir()
	untouched := treeSnapshot(t, outside)
	require.NoError(t, os.Symlink(outside, v.Path(WorkersDir, "evil-0")))
	dir, err := v.WorkerDir("evil/0")
	require.ErrorIs(t, err, ErrVolumeLayoutConflict)
	assert.Empty(t, dir)
	assert.Contains(t, err.Error(), "a symlink")
	assert.Equal(t, untouched, treeSnapshot(t, outside), "the symlink's target is untouched (no chmod, no mkdir)")

	t.Run("workers itself a symlink", func(t *testing.T) {
		w := testVolume(t)
		require.NoError(t, os.Remove(w.Path(WorkersDir)))
		require.NoError(t, os.Symlink(outside, w.Path(WorkersDir)))
		_, err := w.WorkerDir("concourse/0")
		require.ErrorIs(t, err, ErrVolumeLayoutConflict)
		assert.Equal(t, untouched, treeSnapshot(t, outside))
	})
}

func TestCheckInside(t *testing.T) {
	t.Parallel()
	v := testVolume(t)
	outside := t.TempDir()
	require.NoError(t, os.Symlink(outside, v.Path("link-out")))
	require.NoError(t, v.checkInside(v.Path(KeysDir)))
	require.ErrorIs(t, v.checkInside(v.Path("link-out")), ErrOutsideVolume)
	require.ErrorIs(t, v.checkInside(outside), ErrOutsideVolume)
}
