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
	putFile(t, filepath.Join(v.ReleaseDir("7.11.2"), "concourse", "bin", "concourse"), strings.Repeat("x", 1000))
	putFile(t, filepath.Join(v.ReleaseDir("7.11.2"), "concourse", "resource-types", "git.tgz"), strings.Repeat("y", 24))
	require.NoError(t, l.WriteInstalledVersion(InstalledVersion{Version: "7.11.2", Checksum: testSum("7.11.2")}))
	require.NoError(t, os.Symlink(filepath.Join(ReleasesDir, "7.11.2"), v.Path(CurrentLink)))
	_, err = l.EnsureVolumeID()
	require.NoError(t, err)
	require.NoError(t, l.Release())
	for _, u := range []string{"concourse/1", "concourse/0"} {
		_, err := v.WorkerDir(u)
		require.NoError(t, err)
	}
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
	assert.Equal(t, "7.11.2", r.Installed.Version)
	assert.Equal(t, "concourse/0", r.Installed.Unit)
	assert.Equal(t, []ReleaseEntry{{Name: "7.11.2", SizeBytes: 1024}}, r.Releases)
	assert.Equal(t, "releases/7.11.2", r.Current)
	assert.Equal(t, LockReport{State: LockFree}, r.Lock)
	assert.Nil(t, r.Progress)
	assert.Equal(t, []WorkerEntry{{Name: "concourse-0", Mode: "0700"}, {Name: "concourse-1", Mode: "0700"}}, r.Workers)
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
	for _, k := range []string{"root", "fs", "installed_version", "releases", "current", "lock", "progress", "workers", "volume_id", "problems"} {
		assert.Contains(t, keys, k)
	}
}

func TestInspectHeldLock(t *testing.T) {
	t.Parallel()
	v := populate(t)
	l, err := v.TryLock(Holder{Unit: "concourse/1", PID: 31, Host: "node-b", Since: testEpoch})
	require.NoError(t, err)
	defer l.Release()
	require.NoError(t, l.WriteProgress(Progress{Version: "7.12.0", Started: testEpoch.Add(time.Minute)}))
	putFile(t, filepath.Join(v.Path(ReleasesDir, "7.12.0"+PartialInfix+"x1"), "f"), "12345")

	r, err := InspectPath(v.Root(), clockAt(testEpoch.Add(3*time.Minute)))
	require.NoError(t, err)
	assert.Equal(t, LockHeld, r.Lock.State)
	require.NotNil(t, r.Lock.Holder)
	assert.Equal(t, "concourse/1", r.Lock.Holder.Unit)
	assert.Equal(t, int64(180), r.Lock.HeldForSeconds)
	require.NotNil(t, r.Progress)
	assert.Equal(t, "7.12.0", r.Progress.Version)
	assert.Equal(t, int64(120), r.Progress.AgeSeconds)
	assert.False(t, r.Progress.Stuck)
	assert.Contains(t, r.Releases, ReleaseEntry{Name: "7.12.0" + PartialInfix + "x1", SizeBytes: 5, Partial: true})
	assert.Empty(t, r.Problems, "a live install in progress is not a problem")

	// Still held: the probe did not take the lock away.
	_, err = v.TryLock(Holder{Unit: "concourse/2"})
	require.ErrorIs(t, err, ErrLocked)
}

// Every problem Inspect finds says what to do.
func TestInspectProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		damage func(t *testing.T, v *Volume)
		want   []string
	}{
		{"interrupted install", func(t *testing.T, v *Volume) {
			data, err := encodeMarker(Progress{Unit: "concourse/4", PID: 9, Version: "7.12.0", Started: testEpoch})
			require.NoError(t, err)
			putFile(t, v.Path(ProgressFile), string(data))
			putFile(t, filepath.Join(v.Path(ReleasesDir, "7.12.0"+PartialInfix+"q"), "f"), "x")
		}, []string{"7.12.0 by concourse/4 (pid 9) was interrupted: the next unit to take the lock removes", "left from an interrupted unpack: the next unit to take the lock removes it"}},
		{"corrupt version marker", func(t *testing.T, v *Volume) {
			putFile(t, v.Path(InstalledVersionFile), "{")
		}, []string{"marker " + "ROOT/" + InstalledVersionFile + " is corrupt", "remove it; the next install redoes"}},
		{"version marker without release", func(t *testing.T, v *Volume) {
			require.NoError(t, os.RemoveAll(v.ReleaseDir("7.11.2")))
		}, []string{"says 7.11.2 is installed but ROOT/releases/7.11.2 is missing: remove ROOT/.installed_version", "points to releases/7.11.2, which is missing"}},
		{"current outside releases", func(t *testing.T, v *Volume) {
			require.NoError(t, os.Remove(v.Path(CurrentLink)))
			require.NoError(t, os.Symlink("/usr", v.Path(CurrentLink)))
		}, []string{"current points to /usr, outside ROOT/releases: remove it"}},
		{"current not a symlink", func(t *testing.T, v *Volume) {
			require.NoError(t, os.Remove(v.Path(CurrentLink)))
			putFile(t, v.Path(CurrentLink), "x")
		}, []string{"current is not a symlink", "remove it"}},
		{"worker dir mode", func(t *testing.T, v *Volume) {
			require.NoError(t, os.Chmod(v.Path(WorkersDir, "concourse-1"), 0o755))
		}, []string{"concourse-1 has mode 0755", "chmod 700 ROOT/workers/concourse-1"}},
		{"stray file in workers", func(t *testing.T, v *Volume) {
			putFile(t, v.Path(WorkersDir, "notes.txt"), "x")
		}, []string{"notes.txt is a regular file, not a unit's worker directory: move it away"}},
		{"keys mode", func(t *testing.T, v *Volume) {
			require.NoError(t, os.Chmod(v.Path(KeysDir), 0o755))
		}, []string{"keys has mode 0755", "chmod 700 ROOT/keys"}},
		{"layout entry in the way", func(t *testing.T, v *Volume) {
			require.NoError(t, os.RemoveAll(v.Path(KeysDir)))
			putFile(t, v.Path(KeysDir), "x")
		}, []string{"ROOT/keys is a regular file where a directory belongs: move it away"}},
		{"corrupt volume id", func(t *testing.T, v *Volume) {
			putFile(t, v.Path(VolumeIDFile), "zz\n")
		}, []string{".volume_id is corrupt", "writes a new token"}},
		{"corrupt progress marker", func(t *testing.T, v *Volume) {
			putFile(t, v.Path(ProgressFile), "[]")
		}, []string{".download_in_progress is corrupt", "remove it once no unit is installing"}},
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
			all := strings.Join(r.Problems, "\n")
			for _, w := range tc.want {
				assert.Contains(t, all, strings.ReplaceAll(w, "ROOT", v.Root()))
			}
		})
	}
}

// On a small tmpfs Inspect warns about space and about tmpfs itself.
func TestInspectFilesystemProblems(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	volMountTmpfs(t, root, "1m")
	r, err := InspectPath(root)
	require.NoError(t, err)
	assert.Equal(t, "tmpfs", r.FS.Type)
	all := strings.Join(r.Problems, "\n")
	assert.Contains(t, all, "bytes free on "+root+": free space or grow the filesystem")
	assert.Contains(t, all, "is on tmpfs: its contents vanish at reboot")
}

// Inspect works on a read-only mount of a populated volume: it needs no
// write access at all.
func TestInspectReadOnlyVolume(t *testing.T) {
	t.Parallel()
	v := populate(t)
	dst := t.TempDir()
	volMountReadOnly(t, v.Root(), dst)
	r, err := InspectPath(dst)
	require.NoError(t, err)
	require.NotNil(t, r.Installed)
	assert.Equal(t, "7.11.2", r.Installed.Version)
	assert.Equal(t, LockFree, r.Lock.State)
	assert.Empty(t, r.Problems)
}
