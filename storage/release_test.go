package storage

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/version"
	"github.com/concourse-ci-machine/concourse-ci-machine/storage/releasetest"
)

func vers(ss ...string) []version.Version {
	out := make([]version.Version, len(ss))
	for i, s := range ss {
		out[i] = ver(s)
	}
	return out
}

func TestPruneReleases(t *testing.T) {
	t.Parallel()
	all := []string{"1.0.0", "2.0.0", "3.0.0", "7.9.1", "7.10.0", "7.14.3-rc.1", "7.14.3"}
	tests := []struct {
		name      string
		current   string
		running   map[string]string // the registry: unit -> release
		protected []string
		keep      int
		want      []string // what stays, oldest first
	}{
		{"newest two and current", "1.0.0", nil, nil, 2, []string{"1.0.0", "7.14.3-rc.1", "7.14.3"}},
		{"a release candidate is older than its release", "7.14.3", nil, nil, 1, []string{"7.14.3"}},
		{"protected target", "7.14.3", nil, []string{"2.0.0"}, 1, []string{"2.0.0", "7.14.3"}},
		{"releases the registry says units run", "7.14.3", map[string]string{"concourse/1": "3.0.0", "concourse/2": "7.9.1"}, nil, 1,
			[]string{"3.0.0", "7.9.1", "7.14.3"}},
		{"keep everything", "1.0.0", nil, nil, 10, all},
		{"keep below one keeps one", "7.14.3", nil, nil, 0, []string{"7.14.3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := testVolume(t)
			for _, r := range all {
				stageFakeRelease(t, v, r)
			}
			lock, err := v.TryLock(Holder{Unit: "concourse/0"})
			require.NoError(t, err)
			defer lock.Release()
			require.NoError(t, lock.SwitchCurrent(ver(tt.current), 1))
			for unit, r := range tt.running {
				require.NoError(t, lock.SetUnitRelease(unit, ver(r)))
			}
			// An unpack in progress by this holder.
			partial := v.Path(ReleasesDir, "9.0.0"+PartialInfix+"abc")
			require.NoError(t, os.Mkdir(partial, 0o755))

			removed, err := lock.PruneReleases(tt.keep, vers(tt.protected...))
			require.NoError(t, err)
			left, err := v.ListReleases()
			require.NoError(t, err)
			assert.Equal(t, vers(tt.want...), left)
			assert.Len(t, removed, len(all)-len(tt.want))
			for _, r := range removed {
				assert.NotContains(t, left, r)
			}
			assert.DirExists(t, partial, "pruning never touches a partial directory")
			cur, err := v.CurrentVersion()
			require.NoError(t, err)
			assert.Equal(t, ver(tt.current), cur)
		})
	}
}

// Pruning keeps what the fence and the installed marker name even when
// `current` was removed, and removes nothing when what is in use cannot be
// read.
func TestPruneReleasesNeverGuesses(t *testing.T) {
	t.Parallel()
	v := testVolume(t)
	for _, r := range []string{"1.0.0", "2.0.0", "3.0.0"} {
		stageFakeRelease(t, v, r)
	}
	lock, err := v.TryLock(Holder{Unit: "concourse/0"})
	require.NoError(t, err)
	defer lock.Release()
	require.NoError(t, lock.SwitchCurrent(ver("1.0.0"), 1))
	require.NoError(t, os.Remove(v.Path(CurrentLink)))
	removed, err := lock.PruneReleases(1, nil)
	require.NoError(t, err)
	assert.Equal(t, vers("2.0.0"), removed, "the fence and the installed marker keep 1.0.0")

	stageFakeRelease(t, v, "2.0.0")
	putFile(t, v.Path(WorkersDir, "concourse-3", UnitReleaseFile), "{")
	removed, err = lock.PruneReleases(1, nil)
	_, corrupt := errors.AsType[*CorruptMarkerError](err)
	require.True(t, corrupt, "%v", err)
	assert.Empty(t, removed)
	left, err := v.ListReleases()
	require.NoError(t, err)
	assert.Len(t, left, 3)
}

func TestPruneReleasesNeedsTheLock(t *testing.T) {
	t.Parallel()
	v := testVolume(t)
	for _, r := range []string{"1.0.0", "2.0.0", "3.0.0"} {
		stageFakeRelease(t, v, r)
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

func TestCurrentVersion(t *testing.T) {
	t.Parallel()
	v := testVolume(t)
	cur, err := v.CurrentVersion()
	require.NoError(t, err)
	assert.True(t, cur.IsZero())

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
	_, err := v.ReadReleaseInfo(ver("1.0.0"))
	require.ErrorIs(t, err, ErrReleaseNotStaged)
	assert.False(t, v.IsStaged(ver("1.0.0")))

	dir := v.ReleaseDir(ver("1.0.0"))
	putFile(t, filepath.Join(dir, ReleaseBinary), "#!/bin/sh\n")
	_, err = v.ReadReleaseInfo(ver("1.0.0"))
	require.ErrorIs(t, err, ErrReleaseNotStaged, "no release info: not made by the charm")

	require.NoError(t, v.writeMarker(filepath.Join(dir, ReleaseInfoFile), ReleaseInfo{Version: ver("2.0.0"), Checksum: testSum("x")}))
	_, err = v.ReadReleaseInfo(ver("1.0.0"))
	require.ErrorIs(t, err, ErrReleaseNotStaged, "info for another version")

	require.NoError(t, v.writeMarker(filepath.Join(dir, ReleaseInfoFile), ReleaseInfo{Version: ver("1.0.0"), Checksum: testSum("x"), InstalledAt: time.Now()}))
	info, err := v.ReadReleaseInfo(ver("1.0.0"))
	require.NoError(t, err)
	assert.Equal(t, ver("1.0.0"), info.Version)
	assert.True(t, v.IsStaged(ver("1.0.0")))

	require.NoError(t, os.Remove(filepath.Join(dir, ReleaseBinary)))
	assert.False(t, v.IsStaged(ver("1.0.0")), "no binary, no release")
}

func TestVerifyBinary(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		script    string
		mode      os.FileMode
		wantErr   string
		wantOther string // the release the binary says it is, when another
	}{
		{"prints the version", releasetest.Script("7.14.3"), 0o755, "", ""},
		{"prints another version", releasetest.Script("7.14.2"), 0o755, `--version printed "7.14.2"`, "7.14.2"},
		{"prints no version", releasetest.Script("garbage"), 0o755, `--version printed "garbage"`, ""},
		{"not executable", releasetest.Script("7.14.3"), 0o644, "not an executable file", ""},
		{"fails", "#!/bin/sh\necho broken >&2\nexit 3\n", 0o755, "broken", ""},
		{"hangs", "#!/bin/sh\nexec sleep 600\n", 0o755, "did not finish within", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			bin := filepath.Join(dir, ReleaseBinary)
			putFile(t, bin, tt.script)
			require.NoError(t, os.Chmod(bin, tt.mode))
			err := VerifyBinary(context.Background(), dir, ver("7.14.3"), 300*time.Millisecond)
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			bad, ok := errors.AsType[*BadReleaseError](err)
			require.True(t, ok, "%v", err)
			assert.Equal(t, ver("7.14.3"), bad.Version)
			assert.Contains(t, err.Error(), tt.wantErr)
			if tt.wantOther == "" {
				assert.True(t, bad.Other.IsZero(), "%v", bad.Other)
			} else {
				assert.Equal(t, ver(tt.wantOther), bad.Other)
			}
		})
	}
}
