package storage

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testVolume opens a fresh volume in a temporary directory.
func testVolume(t testing.TB, opts ...Option) *Volume {
	t.Helper()
	v, err := OpenVolume(t.TempDir(), opts...)
	require.NoError(t, err)
	return v
}

// clockAt returns a clock that always answers at.
func clockAt(at time.Time) Option {
	return WithClock(func() time.Time { return at })
}

var testEpoch = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// testSum is a well-formed checksum for test markers.
func testSum(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// requireRootFixture fails the test when a root-only fixture (a mount)
// cannot be set up: a skipped test would pass without testing anything.
func requireRootFixture(t testing.TB, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("cannot set up %s (run the tests as root, as .ci/run does): %v", what, err)
	}
}

// volMountReadOnly makes dst a read-only bind mount of src (chmod 555 does
// not stop root) and unmounts it at cleanup.
func volMountReadOnly(t *testing.T, src, dst string) {
	t.Helper()
	err := volMountCmd("--bind", src, dst)
	requireRootFixture(t, err, "a read-only bind mount")
	t.Cleanup(func() { _ = exec.Command("umount", dst).Run() })
	requireRootFixture(t, volMountCmd("-o", "remount,ro,bind", dst), "a read-only bind mount")
}

// volMountTmpfs mounts a tmpfs of the given size (e.g. "1m") at dir and
// unmounts it at cleanup.
func volMountTmpfs(t *testing.T, dir, size string) {
	t.Helper()
	requireRootFixture(t, volMountCmd("-t", "tmpfs", "-o", "size="+size, "tmpfs", dir), "a small tmpfs")
	t.Cleanup(func() { _ = exec.Command("umount", dir).Run() })
}

func volMountCmd(args ...string) error {
	out, err := exec.Command("mount", args...).CombinedOutput()
	if err != nil {
		return &volMountError{args: args, out: strings.TrimSpace(string(out)), err: err}
	}
	return nil
}

type volMountError struct {
	args []string
	out  string
	err  error
}

func (e *volMountError) Error() string {
	return "mount " + strings.Join(e.args, " ") + ": " + e.err.Error() + ": " + e.out
}

// treeEntry is what treeSnapshot records of one path.
type treeEntry struct {
	Mode    fs.FileMode
	Size    int64
	ModTime time.Time
	Content string // files: sha256; symlinks: target
}

// treeSnapshot records every entry under dir (dir itself included), to
// prove an operation wrote nothing.
func treeSnapshot(t testing.TB, dir string) map[string]treeEntry {
	t.Helper()
	snap := map[string]treeEntry{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		st := treeEntry{Mode: info.Mode(), Size: info.Size(), ModTime: info.ModTime()}
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			st.Content, err = os.Readlink(path)
		case info.Mode().IsRegular():
			var data []byte
			data, err = os.ReadFile(path)
			sum := sha256.Sum256(data)
			st.Content = hex.EncodeToString(sum[:])
		}
		rel, _ := filepath.Rel(dir, path)
		snap[rel] = st
		return err
	})
	require.NoError(t, err)
	return snap
}

// putFile writes a test fixture file, creating its directory.
func putFile(t testing.TB, path, content string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
}

// fillDisk creates path (and its directory) and writes to it until the
// filesystem answers ENOSPC, then byte by byte, as small writes may still fit
// in the last page.
func fillDisk(t testing.TB, path string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	f, err := os.Create(path)
	require.NoError(t, err)
	chunk := make([]byte, 64<<10)
	for err == nil {
		_, err = f.Write(chunk)
	}
	if errors.Is(err, syscall.ENOSPC) {
		err = nil
		for err == nil {
			_, err = f.Write([]byte{0})
		}
	}
	closeErr := f.Close()
	require.ErrorIs(t, err, syscall.ENOSPC)
	require.NoError(t, closeErr)
}
