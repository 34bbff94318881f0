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

// On a small tmpfs Inspect warns about space and about tmpfs itself.
func TestInspectFilesystemProblems(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	mounttest.Tmpfs(t, root, "1m")
	r, err := InspectPath(root)
	require.NoError(t, err)
	assert.Equal(t, "tmpfs", r.FS.Type)
	kinds := map[ProblemKind]string{}
	for _, p := range r.Problems {
		kinds[p.Kind] = p.Detail
	}
	assert.Contains(t, kinds[ProblemLowSpace], "only 1.0 MiB free, less than the 1.0 GiB a release may need")
	assert.Contains(t, kinds[ProblemVolatileFS], "on tmpfs: its contents vanish at reboot")
}

// Inspect works on a read-only mount of a populated volume: it needs no
// write access at all.
func TestInspectReadOnlyVolume(t *testing.T) {
	t.Parallel()
	v := populate(t)
	dst := t.TempDir()
	mounttest.ReadOnly(t, v.Root(), dst)
	r, err := InspectPath(dst)
	require.NoError(t, err)
	require.NotNil(t, r.Installed)
	assert.Equal(t, ver("7.11.2"), r.Installed.Version)
	assert.Equal(t, LockFree, r.Lock.State)
	assert.Empty(t, r.Problems)
}
