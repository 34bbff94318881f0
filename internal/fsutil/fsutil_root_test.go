//go:build !unit

// Tests that need root (they mount): `make unit` (-tags unit) leaves them
// out; `make test` runs them.

package fsutil

import (
	"path/filepath"
	"syscall"
	"testing"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/mounttest"
	"github.com/stretchr/testify/require"
)

// A write that does not fit loses nothing: the old file stays whole and no
// temporary file is left. Each write path gets its own small tmpfs.
func TestWriteFileFullDiskKeepsOldContent(t *testing.T) {
	t.Parallel()
	for name, w := range map[string]Writer{"tmpfile": {}, "plain temp": {PlainTemp: true}} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			mounttest.Tmpfs(t, dir, "1m")
			path := filepath.Join(dir, "marker")
			require.NoError(t, w.WriteFile(path, []byte("old"), 0o644))
			err := w.WriteFile(path, make([]byte, 2<<20), 0o644)
			require.ErrorIs(t, err, syscall.ENOSPC)
			assertFile(t, path, "old", 0o644)
			assertOnlyEntries(t, dir, "marker")
		})
	}
}
