package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/concourse-ci-machine/concourse-ci-machine/storage"
	"github.com/concourse-ci-machine/concourse-ci-machine/storage/releasetest"
)

func installFor(t *testing.T, args ...string) result {
	t.Helper()
	return cli(t, append([]string{"install"}, args...)...)
}

func TestRunInstallFromURLPrintsTransitions(t *testing.T) {
	t.Parallel()
	srv := releasetest.NewTestServer(t, "7.14.3")
	volume := t.TempDir()

	r := installFor(t, "--version", "7.14.3", "--url", srv.TarballURL("7.14.3"), "--unit", "concourse/0", volume)
	require.Equal(t, 0, r.code, r.stderr)
	out := r.stdout
	assert.Contains(t, out, "install: absent -> downloading (lock-acquired)\n")
	assert.Contains(t, out, "install: downloading -> verifying (downloaded)\n")
	assert.Contains(t, out, "install: verifying -> installed (verified)\n")
	assert.Contains(t, out, "status: Downloading Concourse 7.14.3: 100%")
	assert.Contains(t, out, "downloaded and verified at "+filepath.Join(volume, storage.ReleasesDir, "7.14.3"))
	target, err := os.Readlink(filepath.Join(volume, storage.CurrentLink))
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(storage.ReleasesDir, "7.14.3"), target)

	// --volume is another spelling of VOLUME.
	r = installFor(t, "--volume", volume, "--version", "7.14.3", "--url", srv.TarballURL("7.14.3"), "--unit", "concourse/1")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "install: absent -> installed (found-installed)\n")
	assert.Equal(t, 1, srv.Hits(releasetest.ReleasePath("7.14.3")))
}

func TestRunInstallFromFileStagesWithoutActivating(t *testing.T) {
	t.Parallel()
	tarball := releasetest.Tarball("7.14.3")
	file := filepath.Join(t.TempDir(), "concourse.tgz")
	require.NoError(t, os.WriteFile(file, tarball, 0o644))
	volume := t.TempDir()

	r := installFor(t, "--version", "7.14.3", "--file", file, "--sha256", releasetest.SHA256Hex(tarball), "--stage-only", volume)
	require.Equal(t, 0, r.code, r.stderr)
	out := r.stdout
	assert.Contains(t, out, "(sha256:"+releasetest.SHA256Hex(tarball)+")")
	assert.Contains(t, out, "status: Concourse 7.14.3 staged\n")
	_, err := os.Lstat(filepath.Join(volume, storage.CurrentLink))
	assert.ErrorIs(t, err, os.ErrNotExist, "--stage-only leaves current alone")
	_, err = os.Stat(filepath.Join(volume, storage.ReleasesDir, "7.14.3", storage.ReleaseBinary))
	assert.NoError(t, err)
}

func TestRunInstallRefusesUnverifiableFile(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "concourse.tgz")
	require.NoError(t, os.WriteFile(file, releasetest.Tarball("7.14.3"), 0o644))
	r := installFor(t, "--version", "7.14.3", "--file", file, t.TempDir())
	assert.Equal(t, 1, r.code, "a failure, not a usage error")
	assert.Contains(t, r.stderr, "no SHA-256 pin was given")
	assert.NotContains(t, r.stderr, "usage:")
	assert.Contains(t, r.stdout, "install: absent -> downloading (lock-acquired)\n")
	assert.Contains(t, r.stdout, "install: downloading -> failed (fail)\n")
}

// A failure comes with the charm's advice: a version the server does not
// have is a 404 (the version or the URL), never a proxy problem.
func TestRunInstallFailureGetsTheCharmsAdvice(t *testing.T) {
	t.Parallel()
	srv := releasetest.NewTestServer(t, "7.14.3")
	pin := strings.Repeat("ab", 32)
	r := installFor(t, "--version", "7.99.0", "--base-url", srv.BaseURL(), "--sha256", pin, t.TempDir())
	assert.Equal(t, 1, r.code, r.stderr)
	assert.Contains(t, r.stderr, "\n  HTTP 404: no Concourse 7.99.0 at "+strings.TrimPrefix(srv.URL(), "http://")+". Check version, or juju config <app> release-url=...\n")
	assert.NotContains(t, r.stderr, "proxy")
}

func TestRunInstallUsageErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	t.Cleanup(func() { // once the parallel subtests are done
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		assert.Empty(t, entries, "a usage error writes nothing")
	})
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no volume", []string{"--version", "1.0.0"}, "VOLUME, the shared volume's directory, is missing"},
		{"no version", []string{dir}, "--version is required"},
		{"url and file", []string{"--version", "1.0.0", "--url", "https://x/y.tgz", "--file", "/y.tgz", dir}, "give --url or --file, not both"},
		{"base-url and file", []string{"--version", "1.0.0", "--base-url", "https://x", "--file", "/y.tgz", dir}, "--base-url does not combine with --url or --file"},
		{"stage-only at a revision", []string{"--version", "1.0.0", "--stage-only", "--revision", "3", dir}, "--revision is where current is switched; --stage-only switches nothing"},
		{"stray argument", []string{"--version", "1.0.0", dir, "extra"}, `expected one VOLUME, got 2 arguments ["` + dir + `" "extra"]`},
		{"unknown flag", []string{"--bogus", dir}, "flag provided but not defined: -bogus"},
		{"bad version", []string{"--version", "latest", dir}, `--version: "latest" is not a Concourse release version`},
		{"bad space", []string{"--version", "1.0.0", "--space-needed", "800MB", dir}, `--space-needed: "800MB" is not an amount of bytes`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := installFor(t, tt.args...)
			assert.Equal(t, 2, r.code)
			assert.Empty(t, r.stdout)
			assert.True(t, strings.HasPrefix(r.stderr, "concourse-ci-machine install: "+tt.want), r.stderr)
			assert.Contains(t, r.stderr, "\nusage: concourse-ci-machine install ")
		})
	}
}
