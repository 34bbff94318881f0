package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/concourse-ci-machine/concourse-ci-machine/installer"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/version"
	"github.com/concourse-ci-machine/concourse-ci-machine/storage"
	"github.com/concourse-ci-machine/concourse-ci-machine/storage/releasetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// populatedVolume builds a volume with an installed release, a worker dir,
// a token and a held lock with an install in progress.
func populatedVolume(t *testing.T) (root string, id string) {
	t.Helper()
	v, err := storage.OpenVolume(t.TempDir())
	require.NoError(t, err)
	tarball, err := releasetest.Build(releasetest.Spec{Version: "7.11.2", Padding: 3 << 20})
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "concourse.tgz")
	require.NoError(t, os.WriteFile(file, tarball, 0o644))
	opts := installer.Options{Unit: "concourse/0", FetchSpec: storage.FetchSpec{Source: storage.FileSource(file), SHA256: releasetest.SHA256Hex(tarball)}, Revision: 2}
	_, err = installer.New(v, opts).Install(context.Background(), version.MustParse("7.11.2"))
	require.NoError(t, err)
	l, err := v.TryLock(storage.Holder{Unit: "concourse/0"})
	require.NoError(t, err)
	id, err = l.EnsureVolumeID()
	require.NoError(t, err)
	require.NoError(t, l.SetUnitRelease("concourse/0", version.MustParse("7.11.2")))
	require.NoError(t, l.WriteProgress(version.MustParse("7.12.0")))
	t.Cleanup(func() { _ = l.Release() })
	return v.Root(), id
}

// listing records names, modes, sizes, mtimes and contents under root, to prove the
// command changed nothing.
func listing(t *testing.T, root string) string {
	t.Helper()
	var b strings.Builder
	require.NoError(t, filepath.Walk(root, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %s %d %s", path, info.Mode(), info.Size(), info.ModTime())
		if info.Mode().IsRegular() {
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, " %x", sha256.Sum256(data))
		}
		b.WriteString("\n")
		return nil
	}))
	return b.String()
}

func TestRunInspectHuman(t *testing.T) {
	t.Parallel()
	empty := t.TempDir()
	populated, id := populatedVolume(t)
	tests := []struct {
		name string
		root string
		want []string
	}{
		{"empty dir", empty, []string{
			"Volume:       " + empty,
			"Layout:       not created yet",
			"Volume id:    none",
			"Installed:    none",
			"Lock:         free",
			"In progress:  none",
			"Releases: none",
			"Workers: none",
			"Problems: none",
		}},
		{"populated volume", populated, []string{
			"Volume:       " + populated,
			"Volume id:    " + id,
			"Installed:    7.11.2 (sha256:",
			"by concourse/0 at ",
			"Current:      releases/7.11.2",
			"Fence:        revision 2: 7.11.2 (by concourse/0 at ",
			"Lock:         held by concourse/0 (pid ",
			"In progress:  7.12.0 by concourse/0 (pid ",
			"Releases:\n  7.11.2  3.0 MiB",
			"Workers:\n  concourse-0  0700  runs 7.11.2",
			"Problems: none",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := listing(t, tc.root)
			r := cli(t, "inspect", tc.root)
			require.Equal(t, 0, r.code, r.stderr)
			for _, w := range tc.want {
				assert.Contains(t, r.stdout, w)
			}
			assert.Regexp(t, `Filesystem:   \w+, [0-9.]+ [KMGTPE]?i?B free of [0-9.]+ [KMGTPE]?i?B`, r.stdout)
			assert.Empty(t, r.stderr)
			assert.Equal(t, before, listing(t, tc.root), "inspect must not modify the volume")
		})
	}
}

func TestRunInspectJSON(t *testing.T) {
	t.Parallel()
	populated, id := populatedVolume(t)
	empty := t.TempDir()
	for _, root := range []string{empty, populated} {
		before := listing(t, root)
		out := cli(t, "inspect", "--json", root)
		require.Equal(t, 0, out.code, out.stderr)
		var r storage.Report
		require.NoError(t, json.Unmarshal([]byte(out.stdout), &r), out.stdout)
		assert.Equal(t, root, r.Root)
		assert.Equal(t, before, listing(t, root))
		if root == empty {
			assert.False(t, r.Initialised)
			assert.Equal(t, storage.LockFree, r.Lock.State)
			continue
		}
		assert.Equal(t, id, r.VolumeID)
		require.NotNil(t, r.Installed)
		assert.Equal(t, "7.11.2", r.Installed.Version.String())
		assert.Equal(t, storage.LockHeld, r.Lock.State)
		require.NotNil(t, r.Progress)
		assert.Equal(t, "7.12.0", r.Progress.Version.String())
		require.Len(t, r.Releases, 1)
		assert.Equal(t, "7.11.2", r.Releases[0].Name)
		assert.InDelta(t, 3<<20, r.Releases[0].SizeBytes, 4096)
	}
}

func TestRunInspectProblemsAreListed(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(root, storage.InstalledVersionFile), []byte("{"), 0o644))
	r := cli(t, "inspect", root)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "Problems:\n  - "+filepath.Join(root, storage.InstalledVersionFile)+": corrupt: unexpected EOF\n")
	assert.Contains(t, r.stdout, "    Remove it: the next unit that takes the lock writes it again")
}

func TestRunInspectBadInvocation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no volume", nil, "VOLUME, the shared volume's directory, is missing"},
		{"two volumes", []string{"/a", "/b"}, `expected one VOLUME, got 2 arguments ["/a" "/b"]`},
		{"unknown flag", []string{"--yaml", "/a"}, "flag provided but not defined: -yaml"},
	}
	for _, tc := range tests {
		r := cli(t, append([]string{"inspect"}, tc.args...)...)
		assert.Equal(t, 2, r.code, tc.name)
		assert.Equal(t, "concourse-ci-machine inspect: "+tc.want+"\nusage: concourse-ci-machine inspect [--json] VOLUME\n"+
			"Run 'concourse-ci-machine help inspect' for details.\n", r.stderr, tc.name)
	}

	// A volume that is not there is a failure, not a usage error, and it
	// is not created.
	missing := filepath.Join(t.TempDir(), "missing")
	r := cli(t, "inspect", missing)
	assert.Equal(t, 1, r.code)
	assert.True(t, strings.HasPrefix(r.stderr, "concourse-ci-machine inspect: shared volume "+missing+" does not exist"), r.stderr)
	assert.Contains(t, r.stderr, "\n  No volume at "+missing+": mount it, or juju add-storage <app>/N concourse-data\n", "the charm's advice")
	assert.NotContains(t, r.stderr, "usage:")
	assert.NoDirExists(t, missing)
}

// Each problem inspect finds comes with the charm's advice under it.
func TestRunInspectProblemAdvice(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	_, err := storage.OpenVolume(root)
	require.NoError(t, err)
	workers := filepath.Join(root, storage.WorkersDir, "concourse-0")
	require.NoError(t, os.MkdirAll(workers, 0o755))
	require.NoError(t, os.Chmod(workers, 0o755))
	r := cli(t, "inspect", root)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, fmt.Sprintf("\n    chmod %o %s\n", storage.WorkerDirMode, workers))
}
