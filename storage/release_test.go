package storage

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/concourse-ci-machine/concourse-ci-machine/storage/releasetest"
)

// stageFakeRelease makes releases/<version> look installed, without a download.
func stageFakeRelease(t *testing.T, v *Volume, version string) {
	t.Helper()
	dir := v.ReleaseDir(version)
	putFile(t, filepath.Join(dir, ReleaseBinary), releasetest.Script(version))
	require.NoError(t, os.Chmod(filepath.Join(dir, ReleaseBinary), 0o755))
	require.NoError(t, writeReleaseInfo(dir, ReleaseInfo{Version: version, Checksum: testSum(version), InstalledAt: testEpoch}))
}

func TestPruneReleases(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		current   string
		protected []string
		keep      int
		want      []string // what stays
	}{
		{"keeps current, the protected target and the newest two", "1.0.0", []string{"2.0.0"}, 2, []string{"1.0.0", "2.0.0", "7.10.0", "7.9.1"}},
		{"current among the newest", "7.10.0", nil, 2, []string{"7.10.0", "7.9.1"}},
		{"keep one", "7.9.1", nil, 1, []string{"7.10.0", "7.9.1"}},
		{"keep everything", "1.0.0", nil, 10, []string{"1.0.0", "2.0.0", "3.0.0", "7.10.0", "7.9.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := testVolume(t)
			for _, ver := range []string{"1.0.0", "2.0.0", "3.0.0", "7.9.1", "7.10.0"} {
				stageFakeRelease(t, v, ver)
			}
			require.NoError(t, v.pointCurrent(tt.current))
			lock, err := v.TryLock(Holder{Unit: "concourse/0"})
			require.NoError(t, err)
			defer lock.Release()
			// An unpack in progress by this holder.
			partial := v.Path(ReleasesDir, "9.0.0"+PartialInfix+"abc")
			require.NoError(t, os.Mkdir(partial, 0o755))

			removed, err := lock.PruneReleases(tt.keep, tt.protected)
			require.NoError(t, err)
			left, err := v.ListReleases()
			require.NoError(t, err)
			sort.Strings(left)
			assert.Equal(t, tt.want, left)
			assert.Len(t, removed, 5-len(tt.want))
			for _, r := range removed {
				assert.NotContains(t, tt.want, r)
			}
			_, err = os.Stat(partial)
			assert.NoError(t, err, "pruning never touches a partial directory")
			cur, err := v.CurrentVersion()
			require.NoError(t, err)
			assert.Equal(t, tt.current, cur)
		})
	}
}

func TestPruneReleasesNeedsTheLock(t *testing.T) {
	t.Parallel()
	v := testVolume(t)
	for _, ver := range []string{"1.0.0", "2.0.0", "3.0.0"} {
		stageFakeRelease(t, v, ver)
	}
	lock, err := v.TryLock(Holder{Unit: "concourse/0"})
	require.NoError(t, err)
	require.NoError(t, lock.Release())
	_, err = lock.PruneReleases(1, nil)
	require.ErrorIs(t, err, ErrLockReleased)
	left, err := v.ListReleases()
	require.NoError(t, err)
	assert.Len(t, left, 3)
}

func TestInstallPrunesOldReleases(t *testing.T) {
	t.Parallel()
	srv := releasetest.NewServer()
	t.Cleanup(srv.Close)
	versions := []string{"7.12.0", "7.13.0", "7.14.0", "7.14.1"}
	for _, ver := range versions {
		srv.AddRelease(ver, releasetest.Tarball(ver))
	}
	v := testVolume(t)
	var lastPruned []string
	for _, ver := range versions {
		opts := installOpts("concourse/0", srv.BaseURL(), &recorder{})
		opts.Protected = []string{"7.12.0"} // say, an upgrade's rollback target
		res, err := NewInstaller(v, opts).Install(context.Background(), ver)
		require.NoError(t, err)
		lastPruned = res.Pruned
	}
	left, err := v.ListReleases()
	require.NoError(t, err)
	sort.Strings(left)
	assert.Equal(t, []string{"7.12.0", "7.14.0", "7.14.1"}, left)
	assert.Equal(t, []string{"7.13.0"}, lastPruned)
}

// A release candidate is older than its release: pruning keeps the newest
// releases by semantic versioning, so 7.14.3 outlives 7.14.3-rc.1.
func TestPruneOrdersReleaseCandidatesBeforeTheirRelease(t *testing.T) {
	t.Parallel()
	srv := releasetest.NewServer()
	t.Cleanup(srv.Close)
	versions := []string{"7.14.3", "7.14.3-rc.1", "7.14.4"}
	for _, ver := range versions {
		srv.AddRelease(ver, releasetest.Tarball(ver))
	}
	v := testVolume(t)
	var res *InstallResult
	for _, ver := range versions {
		opts := installOpts("concourse/0", srv.BaseURL(), &recorder{})
		var err error
		res, err = NewInstaller(v, opts).Install(context.Background(), ver)
		require.NoError(t, err)
	}
	assert.Equal(t, []string{"7.14.3-rc.1"}, res.Pruned)
	left, err := v.ListReleases()
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"7.14.3", "7.14.4"}, left)
}

func TestCurrentVersion(t *testing.T) {
	t.Parallel()
	v := testVolume(t)
	cur, err := v.CurrentVersion()
	require.NoError(t, err)
	assert.Empty(t, cur)

	require.NoError(t, os.Symlink("/etc", v.Path(CurrentLink)))
	_, err = v.CurrentVersion()
	require.ErrorIs(t, err, ErrCurrentNotSymlink)
	require.NoError(t, os.Remove(v.Path(CurrentLink)))
	require.NoError(t, os.Mkdir(v.Path(CurrentLink), 0o755))
	_, err = v.CurrentVersion()
	require.ErrorIs(t, err, ErrCurrentNotSymlink)
}

func TestReadReleaseInfoRefusesIncompleteReleases(t *testing.T) {
	t.Parallel()
	v := testVolume(t)
	_, err := v.ReadReleaseInfo("1.0.0")
	require.ErrorIs(t, err, ErrReleaseNotStaged)

	putFile(t, filepath.Join(v.ReleaseDir("1.0.0"), ReleaseBinary), "#!/bin/sh\n")
	_, err = v.ReadReleaseInfo("1.0.0")
	require.ErrorIs(t, err, ErrReleaseNotStaged, "no release info: not made by the installer")

	require.NoError(t, writeReleaseInfo(v.ReleaseDir("1.0.0"), ReleaseInfo{Version: "2.0.0", Checksum: testSum("x")}))
	_, err = v.ReadReleaseInfo("1.0.0")
	require.ErrorIs(t, err, ErrReleaseNotStaged, "info for another version")

	require.NoError(t, writeReleaseInfo(v.ReleaseDir("1.0.0"), ReleaseInfo{Version: "1.0.0", Checksum: testSum("x"), InstalledAt: time.Now()}))
	info, err := v.ReadReleaseInfo("1.0.0")
	require.NoError(t, err)
	assert.Equal(t, "1.0.0", info.Version)
}

func TestVerifyBinary(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		script  string
		mode    os.FileMode
		wantErr string
	}{
		{"prints the version", releasetest.Script("7.14.3"), 0o755, ""},
		{"prints another version", releasetest.Script("7.14.2"), 0o755, `--version printed "7.14.2"`},
		{"not executable", releasetest.Script("7.14.3"), 0o644, "not an executable file"},
		{"fails", "#!/bin/sh\necho broken >&2\nexit 3\n", 0o755, "broken"},
		{"hangs", "#!/bin/sh\nexec sleep 600\n", 0o755, "did not finish within"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			bin := filepath.Join(dir, ReleaseBinary)
			putFile(t, bin, tt.script)
			require.NoError(t, os.Chmod(bin, tt.mode))
			err := VerifyBinary(context.Background(), dir, "7.14.3", 300*time.Millisecond)
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrBadRelease)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}
