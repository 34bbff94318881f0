package storage

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/version"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOpenVolumeCreatesLayoutWithModes(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	// Pre-existing directories with wrong modes are corrected: the modes are
	// set by chmod, not left to Mkdir and the umask.
	require.NoError(t, os.Mkdir(filepath.Join(root, KeysDir), 0o777))
	require.NoError(t, os.Chmod(filepath.Join(root, KeysDir), 0o777))
	require.NoError(t, os.Mkdir(filepath.Join(root, ReleasesDir), 0o700))

	v, err := OpenVolume(root)
	require.NoError(t, err)
	assert.Equal(t, root, v.Root())
	for name, mode := range map[string]fs.FileMode{ReleasesDir: 0o755, KeysDir: 0o700, WorkersDir: 0o755} {
		fi, err := os.Lstat(v.Path(name))
		require.NoError(t, err, name)
		assert.True(t, fi.IsDir(), name)
		assert.Equal(t, mode, fi.Mode().Perm(), name)
	}
	entries, err := os.ReadDir(root)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.ElementsMatch(t, []string{ReleasesDir, KeysDir, WorkersDir}, names, "the write probe must be gone")

	again, err := OpenVolume(root)
	require.NoError(t, err, "opening twice is fine")
	assert.Equal(t, v.Root(), again.Root())
}

func TestOpenVolumeRelativePathBecomesAbsolute(t *testing.T) {
	// Not parallel: it changes the working directory.
	root := t.TempDir()
	t.Chdir(root)
	v, err := OpenVolume(".")
	require.NoError(t, err)
	assert.Equal(t, root, v.Root())
	assert.True(t, filepath.IsAbs(v.Path(KeysDir)))
}

func TestVolumePaths(t *testing.T) {
	t.Parallel()
	v := testVolume(t)
	assert.Equal(t, filepath.Join(v.Root(), "a", "b"), v.Path("a", "b"))
	assert.Equal(t, filepath.Join(v.Root(), ReleasesDir, "7.11.2"), v.ReleaseDir(ver("7.11.2")))
	assert.Equal(t, filepath.Join(v.Root(), ReleasesDir, "7.11.2"), v.ReleaseDir(ver("v7.11.2")), "one version, one directory")
	for _, bad := range []version.Version{{}, ver("7.14.3-a" + PartialInfix + "x"), ver("7.14.3-a" + TempInfix + "x")} {
		assert.Empty(t, v.ReleaseDir(bad), "ReleaseDir(%q) must not name a path", bad)
	}
}

func TestOpenVolumeRefusesUnusableRoots(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	file := filepath.Join(parent, "a-file")
	putFile(t, file, "not a directory")
	tests := []struct {
		name     string
		root     string
		sentinel error
		message  string
	}{
		{"empty path", "", ErrVolumeInvalidPath, "shared volume  is not a usable path (empty path)"},
		{"missing", filepath.Join(parent, "missing"), ErrVolumeMissing, "shared volume " + filepath.Join(parent, "missing") + " does not exist (stat "},
		{"missing parent", filepath.Join(parent, "no", "such"), ErrVolumeMissing, "does not exist"},
		{"a file", file, ErrVolumeNotDirectory, "shared volume " + file + " is not a directory"},
		{"below a file", filepath.Join(file, "x"), ErrVolumeNotDirectory, "is not a directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			before := treeSnapshot(t, parent)
			v, err := OpenVolume(tc.root)
			require.Nil(t, v)
			require.ErrorIs(t, err, tc.sentinel)
			var ve *VolumeError
			require.ErrorAs(t, err, &ve)
			assert.Equal(t, tc.sentinel, ve.Reason)
			assert.Contains(t, err.Error(), tc.message)
			assert.Equal(t, before, treeSnapshot(t, parent), "nothing may be written")
		})
	}
}

func TestOpenVolumeLayoutConflict(t *testing.T) {
	t.Parallel()
	for _, name := range []string{ReleasesDir, KeysDir, WorkersDir} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			putFile(t, filepath.Join(root, name), "in the way")
			_, err := OpenVolume(root)
			require.ErrorIs(t, err, ErrVolumeLayoutConflict)
			assert.Contains(t, err.Error(), filepath.Join(root, name))
			assert.Contains(t, err.Error(), "a regular file")
			data, err := os.ReadFile(filepath.Join(root, name))
			require.NoError(t, err)
			assert.Equal(t, "in the way", string(data), "the entry in the way is kept")
		})
	}
	t.Run("symlink", func(t *testing.T) {
		t.Parallel()
		root, outside := t.TempDir(), t.TempDir()
		require.NoError(t, os.Symlink(outside, filepath.Join(root, KeysDir)))
		_, err := OpenVolume(root)
		require.ErrorIs(t, err, ErrVolumeLayoutConflict)
		assert.Contains(t, err.Error(), "a symlink")
	})
}

// Each reason is its own sentinel, and a message says what happened, not
// what to do.
func TestVolumeErrorReasonsAreDistinct(t *testing.T) {
	t.Parallel()
	reasons := []error{ErrVolumeInvalidPath, ErrVolumeMissing, ErrVolumeNotDirectory, ErrVolumeReadOnly, ErrVolumeFull, ErrVolumeUnusable, ErrVolumeLayoutConflict}
	for i, r := range reasons {
		err := &VolumeError{Path: "/srv/x", Reason: r}
		for j, other := range reasons {
			assert.Equal(t, i == j, errors.Is(err, other), "%v matches %v", r, other)
		}
		assert.Equal(t, "shared volume /srv/x "+r.Error(), err.Error())
		for _, advice := range []string{"mount", "juju", "remount", "fix", "check"} {
			assert.NotContains(t, err.Error(), advice)
		}
	}
}
