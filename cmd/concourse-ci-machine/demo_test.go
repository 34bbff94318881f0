package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/concourse-ci-machine/concourse-ci-machine/storage"
)

// TestDemoEndToEnd runs the demo as `make demo` does (the units are real
// processes of a freshly built binary) and checks what it claims: one
// download per release for the whole cluster, every unit on the new
// release, a worker directory per unit and one volume token.
func TestDemoEndToEnd(t *testing.T) {
	bin := buildBinary(t)

	volume := t.TempDir()
	var stdout, stderr bytes.Buffer
	cmd := execCommand(t, bin, "demo", "--units", "3", "--volume", volume)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "demo failed:\n%s\n%s", stdout.String(), stderr.String())
	out := stdout.String()

	assert.Contains(t, out, "the release server saw 1 download(s) of concourse-7.14.3-linux-amd64.tgz for 3 units")
	assert.Contains(t, out, "the release server saw 1 download(s) of concourse-7.14.4-linux-amd64.tgz")
	installRace, _, found := strings.Cut(out, "== 2.")
	require.True(t, found, "the demo output has no step 2:\n%s", out)
	assert.Equal(t, 2, strings.Count(installRace, "(found-installed)"), "the two other units must reuse the first one's download")
	assert.Equal(t, 1, strings.Count(installRace, "(lock-acquired)\n"), "one unit downloads")
	assert.Contains(t, out, "upgrade record: complete -> idle")
	// The workers run for real in a private systemd: each lands on 7.14.3,
	// starts again on 7.14.4, and retires when its unit is removed.
	assert.NotContains(t, out, "(no private systemd here")
	assert.Equal(t, 3, strings.Count(out, "worker log: concourse (fake) 7.14.3 worker landed"), out)
	assert.Equal(t, 3, strings.Count(out, "worker log: concourse (fake) 7.14.4 worker running"), out)
	assert.Equal(t, 3, strings.Count(out, "worker log: concourse (fake) 7.14.4 worker retired"), out)

	report, err := storage.InspectPath(volume)
	require.NoError(t, err)
	reportJSON := mustJSON(t, report)
	assert.Contains(t, reportJSON, "7.14.4")
	for _, unit := range []string{"concourse-0", "concourse-1", "concourse-2"} {
		info, err := os.Stat(filepath.Join(volume, storage.WorkersDir, unit))
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o700), info.Mode().Perm())
	}
	current, err := os.Readlink(filepath.Join(volume, storage.CurrentLink))
	require.NoError(t, err)
	assert.Equal(t, "7.14.4", filepath.Base(current))
	id, err := os.ReadFile(filepath.Join(volume, storage.VolumeIDFile))
	require.NoError(t, err)
	assert.Equal(t, 3, strings.Count(out, "volume token "+strings.TrimSpace(string(id))), "every unit must read the same volume token")
}

// TestDemoUpgradeToAMissingReleaseChangesNothing: a version the release
// server does not have fails the upgrade action before any worker drains.
func TestDemoUpgradeToAMissingReleaseChangesNothing(t *testing.T) {
	bin := buildBinary(t)
	volume := t.TempDir()
	var stdout, stderr bytes.Buffer
	cmd := execCommand(t, bin, "demo", "--units", "2", "--volume", volume, "--upgrade-to", "7.14.30", "--publish-upgrade=false")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.Error(t, cmd.Run())
	assert.Contains(t, stderr.String(), "nothing was changed, the workers keep running 7.14.3")
	assert.NotContains(t, stdout.String(), "land worker", "no worker may drain for a release that cannot be had")
	current, err := os.Readlink(filepath.Join(volume, storage.CurrentLink))
	require.NoError(t, err)
	assert.Equal(t, "7.14.3", filepath.Base(current))
}

func TestDemoRejectsBadFlags(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := runDemo(context.Background(), []string{"--units", "0"}, &stdout, &stderr)
	require.ErrorIs(t, err, errUsage)
	err = runDemo(context.Background(), []string{"--version", "7.14.3", "--upgrade-to", "7.14.3"}, &stdout, &stderr)
	require.ErrorIs(t, err, errUsage)
}

func execCommand(t *testing.T, name string, args ...string) *exec.Cmd {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "JUJU_DISPATCH_PATH=")
	return cmd
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// buildBinary builds the command: the demo starts its units as processes of
// its own executable, which under `go test` would be the test binary.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "concourse-ci-machine")
	build := execCommand(t, "go", "build", "-o", bin, ".")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "build the binary: %s", out)
	return bin
}
