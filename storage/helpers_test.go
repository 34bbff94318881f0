package storage

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/version"
	"github.com/concourse-ci-machine/concourse-ci-machine/storage/releasetest"
	"github.com/concourse-ci-machine/concourse-ci-machine/storage/storagetest"
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

// ver parses a version constant.
func ver(s string) version.Version { return version.MustParse(s) }

// testSum is a well-formed checksum for test markers.
func testSum(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// The shared fixtures, under the names these tests have always used.
var (
	treeSnapshot = storagetest.Snapshot
	putFile      = storagetest.PutFile
	fillDisk     = storagetest.FillDisk
)

// stageFakeRelease makes releases/<version> a complete release, without a
// download.
func stageFakeRelease(t testing.TB, v *Volume, version string) {
	t.Helper()
	dir := v.ReleaseDir(ver(version))
	putFile(t, filepath.Join(dir, ReleaseBinary), releasetest.Script(version))
	require.NoError(t, os.Chmod(filepath.Join(dir, ReleaseBinary), 0o755))
	require.NoError(t, v.writeMarker(filepath.Join(dir, ReleaseInfoFile), ReleaseInfo{Version: ver(version), Checksum: testSum(version), InstalledAt: testEpoch}))
}

// requireLocked fails unless err reports a held lock.
func requireLocked(t testing.TB, err error) *LockedError {
	t.Helper()
	locked, ok := errors.AsType[*LockedError](err)
	require.True(t, ok, "want a *LockedError, got %v", err)
	return locked
}

// requireValueError fails unless err refuses a value of field.
func requireValueError(t testing.TB, err error, field string, msgAndArgs ...any) {
	t.Helper()
	ve, ok := errors.AsType[*ValueError](err)
	require.True(t, ok, "want a *ValueError, got %v", err)
	require.Equal(t, field, ve.Field, msgAndArgs...)
}

// listNames lists the entries of dir whose names contain part.
func listNames(t *testing.T, dir, part string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		if strings.Contains(e.Name(), part) {
			names = append(names, e.Name())
		}
	}
	return names
}
