package storage

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/concourse-ci-machine/concourse-ci-machine/storage/releasetest"
)

// localRelease writes v's tarball (with padding bytes) to a file and returns
// a spec that fetches it, pinned.
func localRelease(t *testing.T, v string, padding int64) FetchSpec {
	t.Helper()
	tarball, err := releasetest.Build(releasetest.Spec{Version: v, Padding: padding})
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "concourse-"+v+".tgz")
	require.NoError(t, os.WriteFile(file, tarball, 0o644))
	return FetchSpec{Source: FileSource(file), SHA256: releasetest.SHA256Hex(tarball)}
}

// The release's data is durable before its directory is renamed into place
// (and so before any marker can name it), and the rename is made durable
// after: a power loss never leaves a release dir with empty or short files
// that the double-check would trust.
func TestCommitSyncsTheDataBeforeTheRename(t *testing.T) {
	t.Parallel()
	rec := &orderRecorder{}
	v := testVolume(t, withDurability(rec))
	l, err := v.TryLock(Holder{Unit: "concourse/0"})
	require.NoError(t, err)
	defer l.Release()
	p, err := l.FetchRelease(context.Background(), ver("7.14.3"), localRelease(t, "7.14.3", 64<<10))
	require.NoError(t, err)
	require.NoError(t, p.Verify(context.Background(), 0))
	partial := p.Dir
	rec.watch = func(op string) {
		switch op {
		case "syncdata " + filepath.Base(partial):
			assert.FileExists(t, filepath.Join(partial, ReleaseInfoFile), "the release info is synced with the data")
			assert.NoDirExists(t, v.ReleaseDir(ver("7.14.3")), "synced before the rename")
		case "rename 7.14.3":
			assert.NoFileExists(t, v.Path(InstalledVersionFile), "no marker names the release before it is in place")
		}
	}
	info, err := p.Commit()
	require.NoError(t, err)
	require.NoError(t, l.SwitchCurrent(ver("7.14.3"), 1))

	ops := rec.ops(v)
	require.Len(t, ops, 5, "%q", ops)
	assert.True(t, strings.HasPrefix(ops[0], "syncdata "+filepath.Join(ReleasesDir, "7.14.3"+PartialInfix)), ops[0])
	assert.Equal(t, []string{
		"rename " + filepath.Join(ReleasesDir, "7.14.3"),
		"syncdir " + ReleasesDir,
		"rename " + CurrentLink,
		"syncdir .",
	}, ops[1:])
	assert.Equal(t, v.ReleaseDir(ver("7.14.3")), p.Dir)
	assert.Equal(t, int64(64<<10), info.UnpackedBytes-int64(len(releasetest.Script("7.14.3")))-releasetestSmallFiles)
	assert.NoError(t, p.Discard(), "a committed release is not discarded")
	assert.True(t, v.IsStaged(ver("7.14.3")))
}

// releasetestSmallFiles is what releasetest puts in a release besides the
// binary and the padding.
const releasetestSmallFiles = int64(len("#!/bin/sh\necho gdn\n") + len(`{"type":"git","version":"1.0.0","privileged":false}`+"\n") + len("not a real rootfs\n"))

// A release directory that is not a complete release (no release info) is
// replaced on commit, and a discarded partial release leaves nothing.
func TestCommitReplacesAnIncompleteReleaseDirectory(t *testing.T) {
	t.Parallel()
	v := testVolume(t)
	putFile(t, filepath.Join(v.ReleaseDir(ver("7.14.3")), "stray"), "left by hand")
	l, err := v.TryLock(Holder{Unit: "concourse/0"})
	require.NoError(t, err)
	defer l.Release()

	p, err := l.FetchRelease(context.Background(), ver("7.14.3"), localRelease(t, "7.14.3", 0))
	require.NoError(t, err)
	_, err = p.Commit()
	require.NoError(t, err)
	assert.NoFileExists(t, filepath.Join(v.ReleaseDir(ver("7.14.3")), "stray"))

	q, err := l.FetchRelease(context.Background(), ver("7.14.4"), localRelease(t, "7.14.4", 0))
	require.NoError(t, err)
	require.DirExists(t, q.Dir)
	require.NoError(t, q.Discard())
	require.NoError(t, q.Discard(), "idempotent")
	left, err := v.ListReleases()
	require.NoError(t, err)
	assert.Equal(t, vers("7.14.3"), left)
}

// What is known before the download is checked before it: an operator's
// figure, or a local tarball's gzip trailer.
func TestFetchReleaseChecksSpaceBeforeTheDownload(t *testing.T) {
	t.Parallel()
	v := testVolume(t)
	l, err := v.TryLock(Holder{Unit: "concourse/0"})
	require.NoError(t, err)
	defer l.Release()
	free := v.freeBytes()
	require.Positive(t, free)

	spec := localRelease(t, "7.14.3", 0)
	spec.SpaceNeeded = free + 1<<30
	_, err = l.FetchRelease(context.Background(), ver("7.14.3"), spec)
	ns := requireNoSpace(t, err)
	assert.Equal(t, SpaceOverride, ns.Basis)
	assert.Equal(t, spec.SpaceNeeded, ns.Need)
	assert.Zero(t, ns.Written)
	assert.Empty(t, listNames(t, v.Path(ReleasesDir), PartialInfix), "nothing was unpacked")
}

func requireNoSpace(t *testing.T, err error) *NoSpaceError {
	t.Helper()
	ns, ok := errors.AsType[*NoSpaceError](err)
	require.True(t, ok, "want a *NoSpaceError, got %v", err)
	return ns
}

// The estimate: the operator's figure wins; otherwise the largest of the
// gzip trailer, the largest release on the volume (each with a margin) and
// the download's size.
func TestSpaceNeeded(t *testing.T) {
	t.Parallel()
	v := testVolume(t)
	need, basis := v.spaceNeeded(0, "", -1)
	assert.Equal(t, int64(-1), need)
	assert.Equal(t, SpaceUnknown, basis)
	need, basis = v.spaceNeeded(0, "", 1000)
	assert.Equal(t, int64(1000), need)
	assert.Equal(t, SpaceDownloadSize, basis)

	spec := localRelease(t, "7.14.3", 256<<10)
	trailer, ok := gzipUnpackedSize(spec.Source.File)
	require.True(t, ok)
	fi, err := os.Stat(spec.Source.File)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, trailer, int64(256<<10), "the tar stream holds the padding")
	need, basis = v.spaceNeeded(0, spec.Source.File, fi.Size())
	assert.Equal(t, trailer+trailer/10, need)
	assert.Equal(t, SpaceGzipTrailer, basis)

	stageFakeRelease(t, v, "1.0.0")
	require.NoError(t, v.writeMarker(filepath.Join(v.ReleaseDir(ver("1.0.0")), ReleaseInfoFile),
		ReleaseInfo{Version: ver("1.0.0"), Checksum: testSum("1.0.0"), UnpackedBytes: 10 << 20}))
	need, basis = v.spaceNeeded(0, spec.Source.File, fi.Size())
	assert.Equal(t, int64(11<<20), need)
	assert.Equal(t, SpacePreviousRelease, basis)

	need, basis = v.spaceNeeded(3, spec.Source.File, fi.Size())
	assert.Equal(t, int64(3), need)
	assert.Equal(t, SpaceOverride, basis)

	_, ok = gzipUnpackedSize(filepath.Join(t.TempDir(), "missing"))
	assert.False(t, ok)
	garbage := filepath.Join(t.TempDir(), "garbage.tgz")
	putFile(t, garbage, strings.Repeat("x", 96)+"\x01\x00\x00\x00")
	_, ok = gzipUnpackedSize(garbage)
	assert.False(t, ok, "a trailer smaller than the file is not trusted")
}

// fullAtSync is a durability whose data sync meets a full disk.
type fullAtSync struct{ osDurability }

func (fullAtSync) syncData(string) error {
	return &os.PathError{Op: "fsync", Path: "x", Err: syscall.ENOSPC}
}

// A disk that fills while the release is committed (its info, the sync,
// the rename) is a *NoSpaceError of the release, with what was unpacked
// and the space free once the partial release is gone, not the system's
// bare error.
func TestCommitOnAFullDiskIsNoSpace(t *testing.T) {
	t.Parallel()
	v := testVolume(t, withDurability(fullAtSync{osDurability{noSync: true}}))
	l, err := v.TryLock(Holder{Unit: "concourse/0"})
	require.NoError(t, err)
	defer l.Release()
	p, err := l.FetchRelease(context.Background(), ver("7.14.3"), localRelease(t, "7.14.3", 64<<10))
	require.NoError(t, err)
	_, err = p.Commit()
	var ns *NoSpaceError
	require.ErrorAs(t, err, &ns)
	assert.Empty(t, ns.File, "the release, not a file of it")
	assert.Equal(t, v.Path(ReleasesDir), ns.Path)
	assert.Equal(t, p.Stats.Bytes, ns.Written)
	assert.Positive(t, ns.Free)
	assert.ErrorIs(t, err, syscall.ENOSPC)
	assert.NoDirExists(t, v.ReleaseDir(ver("7.14.3")))
	entries, err := os.ReadDir(v.Path(ReleasesDir))
	require.NoError(t, err)
	assert.Empty(t, entries, "nothing of the release is left")
}
