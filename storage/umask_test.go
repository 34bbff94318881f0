package storage

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/concourse-ci-machine/concourse-ci-machine/storage/releasetest"
)

// Under umask 077 (a child process: the umask is the whole process's), every
// entry a unit makes on the volume has the mode the charm means, not the
// umask's: a non-root service user can reach current/concourse/bin/concourse,
// and every file the charm writes is readable as it should be. The list is
// exhaustive: a new file on the volume must be added with its mode.
func TestEverythingWrittenUnderUmask077HasItsMode(t *testing.T) {
	t.Parallel()
	tarball := releasetest.Tarball("7.14.3")
	file := filepath.Join(t.TempDir(), "concourse.tgz")
	require.NoError(t, os.WriteFile(file, tarball, 0o644))
	root := t.TempDir()
	child := startHelper(t, roleUmask, root, "concourse/0", file, releasetest.SHA256Hex(tarball))
	require.NoError(t, child.Wait(), "helper pid %d", child.Pid())

	release := filepath.Join(ReleasesDir, "7.14.3")
	want := map[string]fs.FileMode{
		LockFile:                                 FileMode,
		LockHolderFile:                           FileMode,
		InstalledVersionFile:                     FileMode,
		CurrentFenceFile:                         FileMode,
		ProgressFile:                             FileMode,
		VolumeIDFile:                             FileMode,
		CurrentLink:                              fs.ModeSymlink | 0o777,
		ReleasesDir:                              fs.ModeDir | ReleasesMode,
		KeysDir:                                  fs.ModeDir | KeysMode,
		WorkersDir:                               fs.ModeDir | WorkersMode,
		filepath.Join(WorkersDir, "concourse-0"): fs.ModeDir | WorkerDirMode,
		filepath.Join(WorkersDir, "concourse-0", UnitReleaseFile): FileMode,
		release:                                                                       fs.ModeDir | ReleaseDirMode,
		filepath.Join(release, ReleaseInfoFile):                                       FileMode,
		filepath.Join(release, "concourse"):                                           fs.ModeDir | 0o755,
		filepath.Join(release, "concourse/bin"):                                       fs.ModeDir | 0o755,
		filepath.Join(release, "concourse/bin/concourse"):                             0o755,
		filepath.Join(release, "concourse/bin/gdn"):                                   0o755,
		filepath.Join(release, "concourse/resource-types"):                            fs.ModeDir | 0o755,
		filepath.Join(release, "concourse/resource-types/git"):                        fs.ModeDir | 0o755,
		filepath.Join(release, "concourse/resource-types/git/resource_metadata.json"): 0o644,
		filepath.Join(release, "concourse/resource-types/git/rootfs.tgz"):             0o644,
	}
	got := map[string]fs.FileMode{}
	require.NoError(t, filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == root {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		got[rel] = info.Mode()
		return nil
	}))
	assert.Equal(t, want, got)
}
