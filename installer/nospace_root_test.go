//go:build !unit

// Tests that need root (they mount): `make unit` (-tags unit) leaves them
// out; `make test` runs them.

package installer

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/concourse-ci-machine/concourse-ci-machine/fsm"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/bytesize"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/mounttest"
	"github.com/concourse-ci-machine/concourse-ci-machine/storage"
	"github.com/concourse-ci-machine/concourse-ci-machine/storage/releasetest"
	"github.com/concourse-ci-machine/concourse-ci-machine/storage/storagetest"
)

// tmpfsVolume opens a volume on a tmpfs of size.
func tmpfsVolume(t *testing.T, size string) *storage.Volume {
	t.Helper()
	dir := t.TempDir()
	mounttest.Tmpfs(t, dir, size)
	return openVolume(t, dir)
}

// TestInstallOnFullDisk installs a release bigger than a 2 MiB tmpfs volume
// over an installed one: with a Content-Length it is refused before a byte
// is unpacked; without one the unpack stops as soon as the disk fills, and
// says what it wrote and what is free. Either way nothing partial is left,
// and `current` and its release are untouched.
func TestInstallOnFullDisk(t *testing.T) {
	t.Parallel()
	big, err := releasetest.Build(releasetest.Spec{Version: "7.14.3", Padding: 48 << 20})
	require.NoError(t, err)
	tests := []struct {
		name     string
		noLength bool
	}{
		{"refused before the download with a Content-Length", false},
		{"stopped when the disk fills without one", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := tmpfsVolume(t, "2m")
			srv := releasetest.NewTestServer(t, "1.0.0")
			srv.AddRelease("7.14.3", big)
			_, err = New(v, testOpts("concourse/0", srv.BaseURL(), &recorder{})).Install(context.Background(), ver("1.0.0"))
			require.NoError(t, err)
			srv.OmitContentLength(tt.noLength)
			before := storagetest.Snapshot(t, v.ReleaseDir(ver("1.0.0")))

			opts := testOpts("concourse/0", srv.BaseURL(), &recorder{})
			opts.Revision = 1
			res, err := New(v, opts).Install(context.Background(), ver("7.14.3"))
			ns, ok := errors.AsType[*storage.NoSpaceError](err)
			require.True(t, ok, "%v", err)
			t.Logf("the error reads: %v", err)
			assert.Equal(t, v.Path(storage.ReleasesDir), ns.Path)
			assert.Greater(t, ns.Free, int64(0))
			assert.Less(t, ns.Free, int64(2<<20))
			assert.Contains(t, err.Error(), bytesize.Format(ns.Free)+" free")
			assert.Equal(t, fsm.InstallFailed, res.State)
			assert.Equal(t, 1, srv.Hits(releasetest.ReleasePath("7.14.3")), "a full disk is not retried")
			if tt.noLength {
				require.ErrorIs(t, err, syscall.ENOSPC)
				assert.Positive(t, ns.Written)
				assert.Less(t, ns.Written, int64(2<<20))
				assert.Contains(t, err.Error(), "after unpacking "+bytesize.Format(ns.Written))
				assert.Less(t, srv.Sent(releasetest.ReleasePath("7.14.3")), int64(len(big)/2), "the download stops when the disk is full")
			} else {
				assert.NotErrorIs(t, err, syscall.ENOSPC)
				assert.Equal(t, storage.SpaceDownloadSize, ns.Basis)
				assert.Equal(t, int64(len(big)), ns.Need)
				assert.Zero(t, ns.Written)
				assert.Contains(t, err.Error(), "needs about "+bytesize.Format(ns.Need)+" (by the download's size)")
			}

			assertCurrent(t, v, "1.0.0")
			assertNoPartials(t, v)
			_, err = os.Stat(v.ReleaseDir(ver("7.14.3")))
			assert.ErrorIs(t, err, os.ErrNotExist)
			assert.Equal(t, before, storagetest.Snapshot(t, v.ReleaseDir(ver("1.0.0"))), "the current release is untouched")
			p, err := v.ReadProgress()
			require.NoError(t, err)
			assert.Nil(t, p)
			out, err := os.ReadFile(filepath.Join(v.Path(storage.CurrentLink), storage.ReleaseBinary))
			require.NoError(t, err)
			assert.Equal(t, releasetest.Script("1.0.0"), string(out))
		})
	}
}

// The space check estimates from what is known, not three times the
// tarball: a release that fits is installed on a volume with a little more
// free than the release's size, from a server (the download's size), from a
// local file (its gzip trailer) and over a release of the same size (the
// previous release's). An operator's figure replaces the estimate, and the
// refusal says it.
func TestInstallSpaceEstimate(t *testing.T) {
	t.Parallel()
	const padding = 1 << 20
	tarball := func(v string) []byte {
		data, err := releasetest.Build(releasetest.Spec{Version: v, Padding: padding})
		require.NoError(t, err)
		return data
	}
	t.Run("from the download's size and the previous release", func(t *testing.T) {
		t.Parallel()
		v := tmpfsVolume(t, "3m")
		srv := releasetest.NewTestServer(t)
		srv.AddRelease("7.14.2", tarball("7.14.2"))
		srv.AddRelease("7.14.3", tarball("7.14.3"))
		_, err := New(v, testOpts("concourse/0", srv.BaseURL(), &recorder{})).Install(context.Background(), ver("7.14.2"))
		require.NoError(t, err, "3 MiB free, a 1 MiB release")
		_, err = New(v, testOpts("concourse/0", srv.BaseURL(), &recorder{})).Stage(context.Background(), ver("7.14.3"))
		require.NoError(t, err, "the previous release says 1.1 MiB")
	})
	t.Run("from the gzip trailer of a local file", func(t *testing.T) {
		t.Parallel()
		v := tmpfsVolume(t, "3m")
		data := tarball("7.14.3")
		file := filepath.Join(t.TempDir(), "concourse.tgz")
		require.NoError(t, os.WriteFile(file, data, 0o644))
		opts := testOpts("concourse/0", "", &recorder{})
		opts.Source, opts.SHA256 = storage.FileSource(file), releasetest.SHA256Hex(data)
		_, err := New(v, opts).Install(context.Background(), ver("7.14.3"))
		require.NoError(t, err)
	})
	t.Run("the operator's figure", func(t *testing.T) {
		t.Parallel()
		v := tmpfsVolume(t, "3m")
		srv := releasetest.NewTestServer(t)
		srv.AddRelease("7.14.3", tarball("7.14.3"))
		opts := testOpts("concourse/0", srv.BaseURL(), &recorder{})
		opts.SpaceNeeded = 5 << 20
		_, err := New(v, opts).Install(context.Background(), ver("7.14.3"))
		ns, ok := errors.AsType[*storage.NoSpaceError](err)
		require.True(t, ok, "%v", err)
		assert.Equal(t, storage.SpaceOverride, ns.Basis)
		assert.Contains(t, err.Error(), "the release needs about 5.0 MiB (by the configured figure)")
		assert.Zero(t, srv.Hits(releasetest.ReleasePath("7.14.3")), "refused before the download")
	})
}
