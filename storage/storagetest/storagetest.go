// Package storagetest holds the file-system fixtures that the tests of
// storage and of the rooms above it share: snapshots of a tree, small files
// and a disk filled to the last byte (the mounts that need root are in
// internal/mounttest). It must not import storage, whose tests import it.
package storagetest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Entry is what Snapshot records of one path.
type Entry struct {
	Mode    fs.FileMode
	Size    int64
	ModTime time.Time
	Content string // files: sha256; symlinks: target
}

// Snapshot records every entry under dir (dir itself included), to prove
// an operation wrote nothing.
func Snapshot(t testing.TB, dir string) map[string]Entry {
	t.Helper()
	snap := map[string]Entry{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		st := Entry{Mode: info.Mode(), Size: info.Size(), ModTime: info.ModTime()}
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

// PutFile writes a fixture file, creating its directory.
func PutFile(t testing.TB, path, content string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
}

// FillDisk creates path (and its directory) and writes to it until the
// filesystem answers ENOSPC, then byte by byte, as small writes may still
// fit in the last page.
func FillDisk(t testing.TB, path string) {
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
