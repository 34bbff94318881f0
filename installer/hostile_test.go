package installer

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/concourse-ci-machine/concourse-ci-machine/fsm"
	"github.com/concourse-ci-machine/concourse-ci-machine/storage"
	"github.com/concourse-ci-machine/concourse-ci-machine/storage/releasetest"
	"github.com/concourse-ci-machine/concourse-ci-machine/storage/storagetest"
)

// TestInstallRefusesHostileArchives installs each hostile tarball through the
// whole installer (storage's tests check each one's reason): each is
// refused without a retry, nothing appears outside the volume, and nothing
// of the archive stays on the volume.
func TestInstallRefusesHostileArchives(t *testing.T) {
	t.Parallel()
	limits := storage.ExtractLimits{MaxBytes: releasetest.BombBytes / 4, MaxEntries: releasetest.ManyEntries / 3}
	for _, kind := range releasetest.HostileKinds() {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			base := t.TempDir()
			outside := filepath.Join(base, "outside")
			require.NoError(t, os.Mkdir(outside, 0o755))
			storagetest.PutFile(t, filepath.Join(outside, "target"), "outside file\n")
			require.NoError(t, os.Mkdir(filepath.Join(base, "volume"), 0o755))
			v := openVolume(t, filepath.Join(base, "volume"))
			tarball, err := releasetest.BuildHostile(kind, "7.14.3", outside)
			require.NoError(t, err)
			srv := releasetest.NewTestServer(t)
			srv.AddRelease("7.14.3", tarball)
			before := storagetest.Snapshot(t, base)

			opts := testOpts("concourse/0", srv.BaseURL(), &recorder{})
			opts.Limits = limits
			res, err := New(v, opts).Install(context.Background(), ver("7.14.3"))

			hostile, ok := errors.AsType[*storage.HostileArchiveError](err)
			require.True(t, ok, "%v", err)
			assert.NotNil(t, hostile.Reason)
			assert.NotEmpty(t, hostile.Entry)
			assert.Contains(t, err.Error(), "nothing was installed")
			assert.Equal(t, fsm.InstallFailed, res.State)
			assert.Equal(t, 1, srv.Hits(releasetest.ReleasePath("7.14.3")), "a refused archive is not retried")

			after := storagetest.Snapshot(t, base)
			for path := range after {
				if _, existed := before[path]; !existed {
					assert.Equal(t, filepath.Join("volume", storage.LockFile), path, "the install left %s behind", path)
				}
			}
			for path, entry := range before {
				if entry.Mode.IsRegular() || entry.Mode&fs.ModeSymlink != 0 {
					assert.Equal(t, entry.Content, after[path].Content, "%s changed", path)
				}
			}
			entries, err := os.ReadDir(v.Path(storage.ReleasesDir))
			require.NoError(t, err)
			assert.Empty(t, entries, "no partial directory may remain")
			_, err = os.Lstat(v.Path(storage.CurrentLink))
			assert.ErrorIs(t, err, fs.ErrNotExist)
			p, err := v.ReadProgress()
			require.NoError(t, err)
			assert.Nil(t, p, "the progress marker is cleared on a clean failure")
		})
	}
}
