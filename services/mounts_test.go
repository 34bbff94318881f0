package services

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// bindMount bind-mounts src on dst and detaches it when the test ends,
// whatever the code under test did: a broken RemoveWorkerDir must not
// leave mounts on the machine (cleanups run last first, so the deepest and
// the top of a stack go first).
func bindMount(t *testing.T, src, dst string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(dst, 0o755))
	require.NoError(t, unix.Mount(src, dst, "", unix.MS_BIND, ""), "bind-mount %s on %s (the tests run as root)", src, dst)
	t.Cleanup(func() { _ = unix.Unmount(dst, unix.MNT_DETACH) })
}

// TestRemoveWorkerDirUnmountsFirst: a worker dir with nested, stacked and
// oddly named bind mounts is removed; what the mounts showed (outside the
// dir) is untouched, because nothing was deleted through a mount.
func TestRemoveWorkerDirUnmountsFirst(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	outside := filepath.Join(base, "outside")
	work := filepath.Join(base, "workers", "concourse-ci-3")
	for _, d := range []string{"vol1", "vol1/inner", "vol2", "vol3"} {
		require.NoError(t, os.MkdirAll(filepath.Join(outside, d), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(outside, d, "keep"), []byte("precious"), 0o644))
	}
	require.NoError(t, os.MkdirAll(work, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(work, "own-file"), nil, 0o644))
	bindMount(t, filepath.Join(outside, "vol1"), filepath.Join(work, "volumes", "live"))
	bindMount(t, filepath.Join(outside, "vol2"), filepath.Join(work, "volumes", "live", "inner")) // nested
	bindMount(t, filepath.Join(outside, "vol3"), filepath.Join(work, "with space"))
	bindMount(t, filepath.Join(outside, "vol3"), filepath.Join(work, "with space")) // stacked, as restarts do

	mounts, err := MountsUnder(work)
	require.NoError(t, err)
	assert.Equal(t, []string{
		filepath.Join(work, "volumes", "live", "inner"),
		filepath.Join(work, "volumes", "live"),
		filepath.Join(work, "with space"),
		filepath.Join(work, "with space"),
	}, mounts, "deepest first, each mount of a stack")

	require.NoError(t, RemoveWorkerDir(work))

	assert.NoDirExists(t, work)
	for _, d := range []string{"vol1", "vol1/inner", "vol2", "vol3"} {
		assert.FileExists(t, filepath.Join(outside, d, "keep"), "deleted through a mount: %s", d)
	}
	mounts, err = MountsUnder(base)
	require.NoError(t, err)
	assert.Empty(t, mounts)
	require.NoError(t, RemoveWorkerDir(work), "a missing dir is fine")
}

func TestRemoveWorkerDirRejectsBadPaths(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"", "/", "relative", "/srv/../etc"} {
		var ve *ValidationError
		assert.ErrorAs(t, RemoveWorkerDir(p), &ve, "%q", p)
	}
}

func TestUnescapeMountPath(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "/a b\tc\\d", unescapeMountPath(`/a\040b\011c\134d`))
	assert.Equal(t, "/plain", unescapeMountPath("/plain"))
	assert.Equal(t, `/odd\9`, unescapeMountPath(`/odd\9`))
}
