package storage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/concourse-ci-machine/concourse-ci-machine/storage/releasetest"
)

// hostileReasons maps every hostile fixture to the reason it must be refused with.
func hostileReasons() map[releasetest.Hostile]error {
	return map[releasetest.Hostile]error{
		releasetest.AbsolutePath:        ErrAbsolutePath,
		releasetest.DotDotPath:          ErrPathTraversal,
		releasetest.SymlinkAbsolute:     ErrLinkEscapes,
		releasetest.SymlinkEscape:       ErrLinkEscapes,
		releasetest.SymlinkChain:        ErrLinkEscapes,
		releasetest.WriteThroughSymlink: ErrThroughSymlink,
		releasetest.HardlinkOutside:     ErrLinkEscapes,
		releasetest.CharDevice:          ErrSpecialFile,
		releasetest.BlockDevice:         ErrSpecialFile,
		releasetest.Fifo:                ErrSpecialFile,
		releasetest.Setuid:              ErrSetuidBit,
		releasetest.Setgid:              ErrSetuidBit,
		releasetest.TarBomb:             ErrArchiveTooLarge,
		releasetest.TooManyEntries:      ErrTooManyEntries,
		releasetest.DuplicateEntry:      ErrDuplicateEntry,
	}
}

// testLimits sit below the resource-exhaustion fixtures' sizes.
func testLimits() ExtractLimits {
	return ExtractLimits{MaxBytes: releasetest.BombBytes / 4, MaxEntries: releasetest.ManyEntries / 3}
}

// tarEntry is one entry of a hand-built test archive.
type tarEntry struct {
	hdr  tar.Header
	body string
}

func buildTar(t *testing.T, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		h := e.hdr
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		require.NoError(t, tw.WriteHeader(&h))
		if e.body != "" {
			_, err := tw.Write([]byte(e.body))
			require.NoError(t, err)
		}
	}
	require.NoError(t, tw.Close())
	require.NoError(t, gz.Close())
	return buf.Bytes()
}

func TestExtractReleaseKeepsWhatIsSafe(t *testing.T) {
	t.Parallel()
	archive := buildTar(t,
		tarEntry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: "./", Mode: 0o755}},
		tarEntry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "concourse/bin/concourse", Mode: 0o755}, body: "#!/bin/sh\n"},
		tarEntry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: "concourse/bin/", Mode: 0o750}}, // listed after its child
		tarEntry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "concourse/lib/data", Mode: 0o600}, body: "data"},
		tarEntry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: "concourse/lib/link", Linkname: "../bin/concourse"}},
		tarEntry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: "concourse/lib/dangling", Linkname: "not-there"}},
		tarEntry{hdr: tar.Header{Typeflag: tar.TypeLink, Name: "concourse/lib/hard", Linkname: "concourse/lib/data"}},
		tarEntry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "concourse/sticky", Mode: 0o1755}, body: "x"},
	)
	dir := t.TempDir()
	stats, err := ExtractRelease(context.Background(), bytes.NewReader(archive), dir, ExtractLimits{})
	require.NoError(t, err)
	assert.Equal(t, 8, stats.Entries)
	assert.Equal(t, int64(len("#!/bin/sh\n")+len("data")+1), stats.Bytes)

	fi, err := os.Stat(filepath.Join(dir, "concourse/bin/concourse"))
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o755), fi.Mode().Perm(), "exec bits survive any umask")
	fi, err = os.Stat(filepath.Join(dir, "concourse/bin"))
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o750), fi.Mode().Perm(), "a directory listed after its children gets the archive's mode")
	fi, err = os.Stat(filepath.Join(dir, "concourse/lib"))
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(ReleaseDirMode), fi.Mode().Perm(), "a directory the archive does not list")
	fi, err = os.Stat(filepath.Join(dir, "concourse/lib/data"))
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o600), fi.Mode().Perm())
	target, err := os.Readlink(filepath.Join(dir, "concourse/lib/link"))
	require.NoError(t, err)
	assert.Equal(t, "../bin/concourse", target)
	hard, err := os.ReadFile(filepath.Join(dir, "concourse/lib/hard"))
	require.NoError(t, err)
	assert.Equal(t, "data", string(hard))
	fi, err = os.Stat(filepath.Join(dir, "concourse/sticky"))
	require.NoError(t, err)
	assert.Zero(t, fi.Mode()&fs.ModeSticky, "the sticky bit is dropped")
}

// A stream that is not a .tgz and one that ends early are told apart: the
// second is what a cut download looks like.
func TestExtractReleaseRefusesCorruptStreams(t *testing.T) {
	t.Parallel()
	good := releasetest.Tarball("1.0.0")
	tests := []struct {
		name string
		data []byte
		want string // the error's type
	}{
		{"not gzip", []byte("<html>rate limited</html>"), "*storage.CorruptArchiveError"},
		{"empty", nil, "*storage.TruncatedArchiveError"},
		{"cut in the gzip header", good[:5], "*storage.TruncatedArchiveError"},
		{"cut in half", good[:len(good)/2], "*storage.TruncatedArchiveError"},
		{"cut before the gzip trailer", good[:len(good)-4], "*storage.TruncatedArchiveError"},
		{"gzip of garbage", func() []byte {
			var b bytes.Buffer
			gz := gzip.NewWriter(&b)
			_, _ = gz.Write(bytes.Repeat([]byte("garbage!"), 1000))
			_ = gz.Close()
			return b.Bytes()
		}(), "*storage.CorruptArchiveError"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ExtractRelease(context.Background(), bytes.NewReader(tt.data), t.TempDir(), ExtractLimits{})
			require.Error(t, err)
			assert.Equal(t, tt.want, fmt.Sprintf("%T", err), "%v", err)
		})
	}
}

func TestExtractReleaseDirectlyRefusesHostile(t *testing.T) {
	t.Parallel()
	for kind, reason := range hostileReasons() {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			base := t.TempDir()
			dir := filepath.Join(base, "release")
			require.NoError(t, os.Mkdir(dir, 0o755))
			archive, err := releasetest.BuildHostile(kind, "1.0.0", filepath.Join(base, "outside"))
			require.NoError(t, err)
			_, err = ExtractRelease(context.Background(), bytes.NewReader(archive), dir, testLimits())
			require.ErrorIs(t, err, reason)
			names, err := os.ReadDir(base)
			require.NoError(t, err)
			require.Len(t, names, 1, "only the extraction directory exists next to it")
			// The symlink chain is only found once both links exist; all
			// others are refused before anything outside could be touched.
			if kind != releasetest.SymlinkChain {
				_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
					assert.False(t, strings.Contains(path, "escaped"), "%s was written", path)
					return nil
				})
			}
		})
	}
}

func TestExtractReleaseStopsOnCancel(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := ExtractRelease(ctx, bytes.NewReader(releasetest.Tarball("1.0.0")), t.TempDir(), ExtractLimits{})
	assert.ErrorIs(t, err, context.Canceled)
}
