package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/concourse-ci-machine/concourse-ci-machine/storage"
	"github.com/concourse-ci-machine/concourse-ci-machine/storage/releasetest"
)

func runInstallFor(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = runInstall(context.Background(), args, &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestRunInstallFromURLPrintsTransitions(t *testing.T) {
	t.Parallel()
	srv := releasetest.NewServer()
	t.Cleanup(srv.Close)
	srv.AddRelease("7.14.3", releasetest.Tarball("7.14.3"))
	volume := t.TempDir()

	out, _, err := runInstallFor(t, "--volume", volume, "--version", "7.14.3", "--url", srv.TarballURL("7.14.3"), "--unit", "concourse/0")
	require.NoError(t, err)
	assert.Contains(t, out, "install: absent -> downloading (lock-acquired)\n")
	assert.Contains(t, out, "install: downloading -> verifying (downloaded)\n")
	assert.Contains(t, out, "install: verifying -> installed (verified)\n")
	assert.Contains(t, out, "status: Downloading Concourse 7.14.3: 100%")
	assert.Contains(t, out, "downloaded and verified at "+filepath.Join(volume, storage.ReleasesDir, "7.14.3"))
	target, err := os.Readlink(filepath.Join(volume, storage.CurrentLink))
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(storage.ReleasesDir, "7.14.3"), target)

	out, _, err = runInstallFor(t, "--volume", volume, "--version", "7.14.3", "--url", srv.TarballURL("7.14.3"), "--unit", "concourse/1")
	require.NoError(t, err)
	assert.Contains(t, out, "install: absent -> installed (found-installed)\n")
	assert.Equal(t, 1, srv.Hits(releasetest.ReleasePath("7.14.3")))
}

func TestRunInstallFromFileStagesWithoutActivating(t *testing.T) {
	t.Parallel()
	tarball := releasetest.Tarball("7.14.3")
	file := filepath.Join(t.TempDir(), "concourse.tgz")
	require.NoError(t, os.WriteFile(file, tarball, 0o644))
	volume := t.TempDir()

	out, _, err := runInstallFor(t, "--volume", volume, "--version", "7.14.3", "--file", file, "--sha256", releasetest.SHA256Hex(tarball), "--stage-only")
	require.NoError(t, err)
	assert.Contains(t, out, "(sha256:"+releasetest.SHA256Hex(tarball)+")")
	assert.Contains(t, out, "status: Concourse 7.14.3 staged\n")
	_, err = os.Lstat(filepath.Join(volume, storage.CurrentLink))
	assert.ErrorIs(t, err, os.ErrNotExist, "--stage-only leaves current alone")
	_, err = os.Stat(filepath.Join(volume, storage.ReleasesDir, "7.14.3", storage.ReleaseBinary))
	assert.NoError(t, err)
}

func TestRunInstallRefusesUnverifiableFile(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "concourse.tgz")
	require.NoError(t, os.WriteFile(file, releasetest.Tarball("7.14.3"), 0o644))
	out, _, err := runInstallFor(t, "--volume", t.TempDir(), "--version", "7.14.3", "--file", file)
	_, ok := errors.AsType[*storage.NoChecksumError](err)
	require.True(t, ok, "%v", err)
	assert.False(t, errors.Is(err, errUsage))
	assert.Contains(t, err.Error(), "no SHA-256 pin was given")
	assert.Contains(t, out, "install: absent -> downloading (lock-acquired)\n")
	assert.Contains(t, out, "install: downloading -> failed (fail)\n")
}

func TestRunInstallUsageErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no volume", []string{"--version", "1.0.0"}, "--volume is required"},
		{"no version", []string{"--volume", dir}, "--version is required"},
		{"url and file", []string{"--volume", dir, "--version", "1.0.0", "--url", "https://x/y.tgz", "--file", "/y.tgz"}, "not both"},
		{"base-url and file", []string{"--volume", dir, "--version", "1.0.0", "--base-url", "https://x", "--file", "/y.tgz"}, "does not combine"},
		{"stray argument", []string{"--volume", dir, "--version", "1.0.0", "extra"}, "unexpected arguments"},
		{"unknown flag", []string{"--volume", dir, "--bogus"}, "bogus"},
		{"bad version", []string{"--volume", dir, "--version", "latest"}, `--version: "latest" is not a Concourse release version`},
		{"bad space", []string{"--volume", dir, "--version", "1.0.0", "--space-needed", "800MB"}, "--space-needed: \"800MB\" is not an amount of bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := runInstallFor(t, tt.args...)
			require.ErrorIs(t, err, errUsage)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestRunInstallHelp(t *testing.T) {
	t.Parallel()
	_, stderr, err := runInstallFor(t, "--help")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(stderr, "Usage: concourse-ci-machine install --volume DIR --version V"), stderr)
}
