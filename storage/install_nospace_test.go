package storage

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
	"github.com/concourse-ci-machine/concourse-ci-machine/storage/releasetest"
)

// TestInstallOnFullDisk installs a release bigger than a 2 MiB tmpfs
// volume, once with a Content-Length (refused before downloading) and once
// without (the disk fills mid-way): ErrNoSpace, nothing partial, `current`
// and the installed version untouched.
func TestInstallOnFullDisk(t *testing.T) {
	t.Parallel()
	big, err := releasetest.Build(releasetest.Spec{Version: "7.14.3", Padding: 4 << 20})
	require.NoError(t, err)
	tests := []struct {
		name        string
		noLength    bool
		wantENOSPC  bool // the disk really filled, vs. refused up front
		wantMinNeed int64
	}{
		{"pre-check with Content-Length", false, false, int64(len(big)) * 3},
		{"ENOSPC mid-way without Content-Length", true, true, 4 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			volMountTmpfs(t, dir, "2m")
			v, err := OpenVolume(dir)
			require.NoError(t, err)
			srv := releasetest.NewServer()
			t.Cleanup(srv.Close)
			srv.AddRelease("1.0.0", releasetest.Tarball("1.0.0"))
			srv.AddRelease("7.14.3", big)
			_, err = NewInstaller(v, installOpts("concourse/0", srv.BaseURL(), &recorder{})).Install(context.Background(), "1.0.0")
			require.NoError(t, err)
			srv.OmitContentLength(tt.noLength)
			before := treeSnapshot(t, v.ReleaseDir("1.0.0"))

			res, err := NewInstaller(v, installOpts("concourse/0", srv.BaseURL(), &recorder{})).Install(context.Background(), "7.14.3")
			require.ErrorIs(t, err, ErrNoSpace)
			t.Logf("the operator reads: %v", err)
			var ns *NoSpaceError
			require.ErrorAs(t, err, &ns)
			assert.GreaterOrEqual(t, ns.Need, tt.wantMinNeed)
			assert.Greater(t, ns.Free, int64(0))
			assert.Less(t, ns.Free, int64(2<<20))
			assert.Equal(t, v.Path(ReleasesDir), ns.Path)
			assert.Contains(t, err.Error(), v.Path(ReleasesDir), "the error says where")
			assert.Contains(t, err.Error(), "MB", "the error says how much")
			assert.Equal(t, tt.wantENOSPC, errors.Is(err, syscall.ENOSPC))
			assert.Equal(t, fsm.InstallFailed, res.State)
			assert.Equal(t, 1, srv.Hits(releasetest.ReleasePath("7.14.3")), "a full disk is not retried")

			assertCurrent(t, v, "1.0.0")
			assertNoPartials(t, v)
			_, err = os.Stat(v.ReleaseDir("7.14.3"))
			assert.ErrorIs(t, err, os.ErrNotExist)
			assert.Equal(t, before, treeSnapshot(t, v.ReleaseDir("1.0.0")), "the current release is untouched")
			p, err := v.ReadProgress()
			require.NoError(t, err)
			assert.Nil(t, p)
			out, err := os.ReadFile(filepath.Join(v.Path(CurrentLink), ReleaseBinary))
			require.NoError(t, err)
			assert.Equal(t, releasetest.Script("1.0.0"), string(out))
		})
	}
}
