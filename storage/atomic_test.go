package storage

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
func TestWriteFileAtomic(t *testing.T) {
	t.Parallel()
	writers := map[string]atomicWriter{
		"tmpfile":    {},
		"plain temp": {plainTemp: true},
		"no sync":    {noSync: true},
	}
	for name, w := range writers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "marker.json")

			require.NoError(t, w.write(path, []byte(`{"v":1}`), 0o600))
			assertFile(t, path, `{"v":1}`, 0o600)

			// 0666 survives the umask (022 here): the mode is set by chmod.
			require.NoError(t, w.write(path, []byte(`{"v":2}`), 0o666))
			assertFile(t, path, `{"v":2}`, 0o666)

			require.NoError(t, w.write(path, nil, 0o644))
			assertFile(t, path, "", 0o644)

			assertOnlyEntries(t, dir, "marker.json")
		})
	}
}

func TestWriteFileAtomicPublicFunction(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), ".installed_version")
	require.NoError(t, WriteFileAtomic(path, []byte("x\n"), 0o644))
	assertFile(t, path, "x\n", 0o644)
}

// The O_TMPFILE path really is taken where the filesystem supports it.
func TestLinkTmpfileOnThisFilesystem(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tmp := filepath.Join(dir, "f"+TempInfix+"1")
	require.NoError(t, atomicWriter{}.linkTmpfile(dir, tmp, []byte("whole"), 0o640))
	assertFile(t, tmp, "whole", 0o640)
}

func TestWriteFileAtomicErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, w := range map[string]atomicWriter{"tmpfile": {}, "plain temp": {plainTemp: true}} {
		t.Run(name+"/missing directory", func(t *testing.T) {
			err := w.write(filepath.Join(dir, "no", "such", "file"), []byte("x"), 0o644)
			require.ErrorIs(t, err, fs.ErrNotExist)
			assert.Contains(t, err.Error(), "write "+filepath.Join(dir, "no", "such", "file")+" atomically")
		})
		t.Run(name+"/target is a directory", func(t *testing.T) {
			target := filepath.Join(dir, name+"-dir")
			require.NoError(t, os.Mkdir(target, 0o755))
			err := w.write(target, []byte("x"), 0o644)
			require.Error(t, err)
			assert.DirExists(t, target)
		})
	}
	assertOnlyEntries(t, dir, "tmpfile-dir", "plain temp-dir")
}

// A write that does not fit loses nothing: the old file stays whole and no
// temporary file is left. Each write path gets its own small tmpfs: space
// freed by a failed write may come back only after a child process forked
// meanwhile by a parallel test has exec'ed (it briefly shares our fds).
func TestWriteFileAtomicFullDiskKeepsOldContent(t *testing.T) {
	t.Parallel()
	for name, w := range map[string]atomicWriter{"tmpfile": {}, "plain temp": {plainTemp: true}} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			volMountTmpfs(t, dir, "1m")
			path := filepath.Join(dir, "marker")
			require.NoError(t, w.write(path, []byte("old"), 0o644))
			err := w.write(path, make([]byte, 2<<20), 0o644)
			require.ErrorIs(t, err, syscall.ENOSPC)
			assertFile(t, path, "old", 0o644)
			assertOnlyEntries(t, dir, "marker")
		})
	}
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
