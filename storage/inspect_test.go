package storage

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// InspectPath on an empty directory reports a volume not set up yet and
// creates nothing.
func TestInspectPathEmptyDirWritesNothing(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	before := treeSnapshot(t, root)
	r, err := InspectPath(root, clockAt(testEpoch))
	require.NoError(t, err)
	assert.Equal(t, before, treeSnapshot(t, root), "inspect must not create the layout or the lock file")

	assert.Equal(t, root, r.Root)
	assert.True(t, testEpoch.Equal(r.At))
	assert.False(t, r.Initialised)
	assert.NotEmpty(t, r.FS.Type)
	assert.Nil(t, r.Installed)
	assert.Empty(t, r.Releases)
	assert.Empty(t, r.Current)
	assert.Equal(t, LockReport{State: LockFree}, r.Lock)
	assert.Nil(t, r.Progress)
	assert.Empty(t, r.Workers)
	assert.Empty(t, r.VolumeID)
	assert.Empty(t, r.Problems)
}

func TestInspectPathRefusesMissingRoot(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	_, err := InspectPath(filepath.Join(parent, "missing"))
	require.ErrorIs(t, err, ErrVolumeMissing)
	assert.NoDirExists(t, filepath.Join(parent, "missing"))
}

// populate builds a volume with an installed release, a current link,
// two worker dirs and a token, and returns it.
func populate(t *testing.T, opts ...Option) *Volume {
	t.Helper()
	v := testVolume(t, opts...)
	l, err := v.TryLock(Holder{Unit: "concourse/0"})
	require.NoError(t, err)
	dir := v.ReleaseDir(ver("7.11.2"))
	putFile(t, filepath.Join(dir, "concourse", "bin", "concourse"), strings.Repeat("x", 1000))
	putFile(t, filepath.Join(dir, "concourse", "resource-types", "git.tgz"), strings.Repeat("y", 24))
	require.NoError(t, v.writeMarker(filepath.Join(dir, ReleaseInfoFile), ReleaseInfo{Version: ver("7.11.2"), Checksum: testSum("7.11.2")}))
	require.NoError(t, l.SwitchCurrent(ver("7.11.2"), 3))
	_, err = l.EnsureVolumeID()
	require.NoError(t, err)
	require.NoError(t, l.SetUnitRelease("concourse/1", ver("7.11.2")))
	require.NoError(t, l.Release())
	_, err = v.WorkerDir("concourse/0")
	require.NoError(t, err)
	return v
}

func TestInspectPopulatedVolume(t *testing.T) {
	t.Parallel()
	v := populate(t, clockAt(testEpoch))
	id, err := v.ReadVolumeID()
	require.NoError(t, err)
	before := treeSnapshot(t, v.Root())

	r, err := InspectPath(v.Root(), clockAt(testEpoch.Add(time.Hour)))
	require.NoError(t, err)
	assert.Equal(t, before, treeSnapshot(t, v.Root()), "inspect writes nothing")

	assert.True(t, r.Initialised)
	require.NotNil(t, r.Installed)
	assert.Equal(t, ver("7.11.2"), r.Installed.Version)
	assert.Equal(t, "concourse/0", r.Installed.Unit)
	require.NotNil(t, r.Fence)
	assert.Equal(t, ver("7.11.2"), r.Fence.Version)
	assert.Equal(t, uint64(3), r.Fence.Revision)
	require.Len(t, r.Releases, 1)
	assert.Equal(t, "7.11.2", r.Releases[0].Name)
	assert.False(t, r.Releases[0].Partial)
	assert.Greater(t, r.Releases[0].SizeBytes, int64(1024), "the files and the release info")
	assert.Equal(t, "releases/7.11.2", r.Current)
	assert.Equal(t, LockReport{State: LockFree}, r.Lock)
	assert.Nil(t, r.Progress)
	assert.Equal(t, []WorkerEntry{{Name: "concourse-0", Mode: "0700"}, {Name: "concourse-1", Mode: "0700", Release: "7.11.2"}}, r.Workers)
	assert.Equal(t, id, r.VolumeID)
	assert.Empty(t, r.Problems)

	// Volume.Inspect gives the same report.
	same, err := v.Inspect()
	require.NoError(t, err)
	same.At = r.At
	same.FS.FreeBytes = r.FS.FreeBytes // parallel tests share the filesystem
	assert.Equal(t, r, same)

	// The JSON uses the documented lower-case keys.
	data, err := json.Marshal(r)
	require.NoError(t, err)
	var keys map[string]any
	require.NoError(t, json.Unmarshal(data, &keys))
	for _, k := range []string{"root", "fs", "installed_version", "fence", "releases", "current", "lock", "progress", "workers", "volume_id", "problems"} {
		assert.Contains(t, keys, k)
	}
}

func TestInspectHeldLock(t *testing.T) {
	t.Parallel()
	v := populate(t)
	holderVol, err := OpenVolume(v.Root(), clockAt(testEpoch.Add(time.Minute)))
	require.NoError(t, err)
	l, err := holderVol.TryLock(Holder{Unit: "concourse/1", PID: 31, Host: "node-b", Since: testEpoch})
	require.NoError(t, err)
	defer l.Release()
	require.NoError(t, l.WriteProgress(ver("7.12.0")))
	putFile(t, filepath.Join(v.Path(ReleasesDir, "7.12.0"+PartialInfix+"x1"), "f"), "12345")

	r, err := InspectPath(v.Root(), clockAt(testEpoch.Add(3*time.Minute)))
	require.NoError(t, err)
	assert.Equal(t, LockHeld, r.Lock.State)
	require.NotNil(t, r.Lock.Holder)
	assert.Equal(t, "concourse/1", r.Lock.Holder.Unit)
	assert.Equal(t, int64(180), r.Lock.HeldForSeconds)
	require.NotNil(t, r.Progress)
	assert.Equal(t, ver("7.12.0"), r.Progress.Version)
	assert.Equal(t, int64(120), r.Progress.AgeSeconds)
	assert.False(t, r.Progress.Stuck)
	assert.Contains(t, r.Releases, ReleaseEntry{Name: "7.12.0" + PartialInfix + "x1", SizeBytes: 5, Partial: true})
	assert.Empty(t, r.Problems, "a live install in progress is not a problem")

	// Still held: the probe did not take the lock away.
	_, err = v.TryLock(Holder{Unit: "concourse/2"})
	requireLocked(t, err)
}

// Every problem Inspect finds has its kind, the path concerned and the
// facts; it changes nothing.
func TestInspectProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		damage func(t *testing.T, v *Volume)
		want   []Problem // Detail: a part of it; ROOT stands for the volume
	}{
		{"interrupted install", func(t *testing.T, v *Volume) {
			data, err := encodeMarker(Progress{Unit: "concourse/4", PID: 9, Version: ver("7.12.0"), Started: testEpoch})
			require.NoError(t, err)
			putFile(t, v.Path(ProgressFile), string(data))
			putFile(t, filepath.Join(v.Path(ReleasesDir, "7.12.0"+PartialInfix+"q"), "f"), "x")
		}, []Problem{
			{ProblemInterruptedInstall, "ROOT/" + ProgressFile, "the install of 7.12.0 by concourse/4 (pid 9) was interrupted"},
			{ProblemPartialRelease, "ROOT/releases/7.12.0" + PartialInfix + "q", "left by an interrupted unpack (1 B)"},
		}},
		{"corrupt version marker", func(t *testing.T, v *Volume) {
			putFile(t, v.Path(InstalledVersionFile), "{")
		}, []Problem{{ProblemCorruptMarker, "ROOT/" + InstalledVersionFile, "corrupt: unexpected EOF"}}},
		{"corrupt fence", func(t *testing.T, v *Volume) {
			putFile(t, v.Path(CurrentFenceFile), `{"version": "7.11.2.partial-x"}`)
		}, []Problem{{ProblemCorruptMarker, "ROOT/" + CurrentFenceFile, "corrupt: "}}},
		{"version marker without release", func(t *testing.T, v *Volume) {
			require.NoError(t, os.RemoveAll(v.ReleaseDir(ver("7.11.2"))))
		}, []Problem{
			{ProblemInstalledMissing, "ROOT/releases/7.11.2", "missing, though .installed_version says 7.11.2 is installed"},
			{ProblemCurrentMissing, "ROOT/current", "points to releases/7.11.2, which is missing"},
		}},
		{"current outside releases", func(t *testing.T, v *Volume) {
			require.NoError(t, os.Remove(v.Path(CurrentLink)))
			require.NoError(t, os.Symlink("/usr", v.Path(CurrentLink)))
		}, []Problem{{ProblemCurrentOutside, "ROOT/current", "points to /usr, outside ROOT/releases"}}},
		{"current not a symlink", func(t *testing.T, v *Volume) {
			require.NoError(t, os.Remove(v.Path(CurrentLink)))
			putFile(t, v.Path(CurrentLink), "x")
		}, []Problem{{ProblemCurrentNotSymlink, "ROOT/current", "not a symlink"}}},
		{"worker dir mode", func(t *testing.T, v *Volume) {
			require.NoError(t, os.Chmod(v.Path(WorkersDir, "concourse-1"), 0o755))
		}, []Problem{{ProblemMode, "ROOT/workers/concourse-1", "mode 0755, a worker directory must be 0700"}}},
		{"stray file in workers", func(t *testing.T, v *Volume) {
			putFile(t, v.Path(WorkersDir, "notes.txt"), "x")
		}, []Problem{{ProblemNotADirectory, "ROOT/workers/notes.txt", "a regular file, not a unit's worker directory"}}},
		{"corrupt registry entry", func(t *testing.T, v *Volume) {
			putFile(t, v.Path(WorkersDir, "concourse-0", UnitReleaseFile), `{"unit": "concourse/1", "version": "7.11.2"}`)
		}, []Problem{{ProblemCorruptMarker, "ROOT/workers/concourse-0/" + UnitReleaseFile, "names unit concourse/1, whose directory is concourse-1"}}},
		{"keys mode", func(t *testing.T, v *Volume) {
			require.NoError(t, os.Chmod(v.Path(KeysDir), 0o755))
		}, []Problem{{ProblemMode, "ROOT/keys", "mode 0755, keys must be 0700"}}},
		{"layout entry in the way", func(t *testing.T, v *Volume) {
			require.NoError(t, os.RemoveAll(v.Path(KeysDir)))
			putFile(t, v.Path(KeysDir), "x")
		}, []Problem{{ProblemNotADirectory, "ROOT/keys", "a regular file where the layout needs a directory"}}},
		{"corrupt volume id", func(t *testing.T, v *Volume) {
			putFile(t, v.Path(VolumeIDFile), "zz\n")
		}, []Problem{{ProblemCorruptMarker, "ROOT/" + VolumeIDFile, `want 32 lower-case hex digits, got "zz"`}}},
		{"corrupt progress marker", func(t *testing.T, v *Volume) {
			putFile(t, v.Path(ProgressFile), "[]")
		}, []Problem{{ProblemCorruptMarker, "ROOT/" + ProgressFile, "corrupt: "}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := populate(t)
			tc.damage(t, v)
			before := treeSnapshot(t, v.Root())
			r, err := InspectPath(v.Root())
			require.NoError(t, err)
			assert.Equal(t, before, treeSnapshot(t, v.Root()))
			require.Len(t, r.Problems, len(tc.want), "%v", r.Problems)
			for i, w := range tc.want {
				got := r.Problems[i]
				assert.Equal(t, w.Kind, got.Kind)
				assert.Equal(t, strings.ReplaceAll(w.Path, "ROOT", v.Root()), got.Path)
				assert.Contains(t, got.Detail, strings.ReplaceAll(w.Detail, "ROOT", v.Root()))
			}
		})
	}
}
