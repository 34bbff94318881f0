//go:build !unit

// Tests that need root (they mount): `make unit` (-tags unit) leaves them
// out; `make test` runs them.

package storage

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/mounttest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A read-only volume is refused as read-only, and nothing is written to it.
func TestOpenVolumeReadOnlyBindMount(t *testing.T) {
	t.Parallel()
	src, dst := t.TempDir(), t.TempDir()
	putFile(t, filepath.Join(src, "existing"), "data")
	mounttest.ReadOnly(t, src, dst)
	before := treeSnapshot(t, src)

	v, err := OpenVolume(dst)
	require.Nil(t, v)
	require.ErrorIs(t, err, ErrVolumeReadOnly)
	var ve *VolumeError
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, dst, ve.Path)
	assert.Contains(t, err.Error(), "shared volume "+dst+" is not writable")
	assert.Equal(t, before, treeSnapshot(t, src), "nothing may be written")
}

// A full filesystem without the layout is refused as full, not as
// read-only, and nothing is written to it. (With the layout in place it is
// opened, for recovery: see TestRecoverAfterDeadHolderFilledTheDisk.)
func TestOpenVolumeFullFilesystem(t *testing.T) {
	// Not parallel, for the reason given in TestRecoverAfterDeadHolderFilledTheDisk.
	root := t.TempDir()
	mounttest.Tmpfs(t, root, "256k")
	fillDisk(t, filepath.Join(root, "fill"))

	_, err := OpenVolume(root)
	require.ErrorIs(t, err, ErrVolumeFull)
	require.ErrorIs(t, err, syscall.ENOSPC, "the system's own error is kept")
	assert.Contains(t, err.Error(), "shared volume "+root+" has no space left")
	entries, err := os.ReadDir(root)
	require.NoError(t, err)
	require.Len(t, entries, 1, "only the filler remains")
}
