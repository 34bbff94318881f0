package fsutil

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Both write paths (O_TMPFILE+linkat, and the named temporary file used
// where O_TMPFILE is refused) create and replace files with exact modes and
// leave no temporary file behind.
func TestWriteFile(t *testing.T) {
	t.Parallel()
	writers := map[string]Writer{
		"tmpfile":    {},
		"plain temp": {PlainTemp: true},
		"no sync":    {NoSync: true},
	}
	for name, w := range writers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "marker.json")

			require.NoError(t, w.WriteFile(path, []byte(`{"v":1}`), 0o600))
			assertFile(t, path, `{"v":1}`, 0o600)

			// 0666 survives the umask (022 here): the mode is set by chmod.
			require.NoError(t, w.WriteFile(path, []byte(`{"v":2}`), 0o666))
			assertFile(t, path, `{"v":2}`, 0o666)

			require.NoError(t, w.WriteFile(path, nil, 0o644))
			assertFile(t, path, "", 0o644)

			assertOnlyEntries(t, dir, "marker.json")
		})
	}
}

func TestWriteFileIfChanged(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "unit.service")
	wrote, err := WriteFileIfChanged(path, []byte("a"), 0o644)
	require.NoError(t, err)
	assert.True(t, wrote, "a missing file is written")
	wrote, err = WriteFileIfChanged(path, []byte("a"), 0o644)
	require.NoError(t, err)
	assert.False(t, wrote, "the same content and mode is left alone")
	wrote, err = WriteFileIfChanged(path, []byte("a"), 0o600)
	require.NoError(t, err)
	assert.True(t, wrote, "a mode change rewrites")
	assertFile(t, path, "a", 0o600)
	wrote, err = WriteFileIfChanged(path, []byte("b"), 0o600)
	require.NoError(t, err)
	assert.True(t, wrote, "a content change rewrites")
	assertFile(t, path, "b", 0o600)
}

// The O_TMPFILE path really is taken where the filesystem supports it.
func TestLinkTmpfileOnThisFilesystem(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tmp := filepath.Join(dir, "f"+TempInfix+"1")
	require.NoError(t, Writer{}.linkTmpfile(dir, tmp, []byte("whole"), 0o640))
	assertFile(t, tmp, "whole", 0o640)
}

func TestWriteFileErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, w := range map[string]Writer{"tmpfile": {}, "plain temp": {PlainTemp: true}} {
		t.Run(name+"/missing directory", func(t *testing.T) {
			err := w.WriteFile(filepath.Join(dir, "no", "such", "file"), []byte("x"), 0o644)
			require.ErrorIs(t, err, fs.ErrNotExist)
			assert.Contains(t, err.Error(), "write "+filepath.Join(dir, "no", "such", "file")+" atomically")
		})
		t.Run(name+"/target is a directory", func(t *testing.T) {
			target := filepath.Join(dir, name+"-dir")
			require.NoError(t, os.Mkdir(target, 0o755))
			err := w.WriteFile(target, []byte("x"), 0o644)
			require.Error(t, err)
			assert.DirExists(t, target)
		})
	}
	assertOnlyEntries(t, dir, "tmpfile-dir", "plain temp-dir")
}

func TestTmpfileUnsupported(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want bool
	}{
		{&os.PathError{Op: "open O_TMPFILE", Path: "/x", Err: syscall.EOPNOTSUPP}, true},
		{&os.PathError{Op: "open O_TMPFILE", Path: "/x", Err: syscall.EINVAL}, true},
		{&os.PathError{Op: "open O_TMPFILE", Path: "/x", Err: syscall.EISDIR}, true},
		{&os.LinkError{Op: "linkat", Old: "/proc/self/fd/3", New: "/x", Err: syscall.ENOENT}, true},
		{syscall.ENOSYS, true},
		{&os.PathError{Op: "write", Path: "/x", Err: syscall.ENOSPC}, false},
		{&os.PathError{Op: "open", Path: "/x", Err: syscall.EACCES}, false},
		{&os.PathError{Op: "open", Path: "/x", Err: syscall.EROFS}, false},
		{errors.New("other"), false},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, tmpfileUnsupported(tc.err), "%v", tc.err)
	}
}

func TestRemoveIfExists(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	require.NoError(t, RemoveIfExists(path), "a missing file is already removed")
	require.NoError(t, os.WriteFile(path, nil, 0o644))
	require.NoError(t, RemoveIfExists(path))
	assert.NoFileExists(t, path)

	tree := filepath.Join(dir, "tree")
	removed, err := RemoveAllIfExists(tree)
	require.NoError(t, err)
	assert.False(t, removed)
	require.NoError(t, os.MkdirAll(filepath.Join(tree, "a", "b"), 0o755))
	removed, err = RemoveAllIfExists(tree)
	require.NoError(t, err)
	assert.True(t, removed)
	assert.NoDirExists(t, tree)
}

func assertFile(t *testing.T, path, content string, perm fs.FileMode) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, content, string(data))
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, perm, fi.Mode().Perm())
}

func assertOnlyEntries(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
		assert.False(t, strings.Contains(e.Name(), TempInfix), "temporary file %s left behind", e.Name())
	}
	assert.ElementsMatch(t, names, got)
}
