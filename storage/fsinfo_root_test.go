//go:build !unit

// Tests that need root (they mount): `make unit` (-tags unit) leaves them
// out; `make test` runs them.

package storage

import (
	"testing"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/mounttest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFSInfoOnTmpfs(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	mounttest.Tmpfs(t, root, "2m")
	v, err := OpenVolume(root)
	require.NoError(t, err)
	info, err := v.FSInfo()
	require.NoError(t, err)
	assert.Equal(t, "tmpfs", info.Type)
	assert.False(t, info.Network)
	assert.Equal(t, uint64(2<<20), info.TotalBytes)

	_, err = statFS(v.Path("missing"))
	require.Error(t, err)
}
