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
	bin := filepath.Join(t.TempDir(), "concourse-ci-machine")
	build := execCommand(t, "go", "build", "-o", bin, ".")
	require.NoError(t, build.Run(), "build the binary")

	volume := t.TempDir()
	var stdout, stderr bytes.Buffer
	cmd := execCommand(t, bin, "demo", "--units", "3", "--volume", volume)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "demo failed:\n%s\n%s", stdout.String(), stderr.String())
	out := stdout.String()

	assert.Contains(t, out, "the release server saw 1 download(s) of concourse-7.14.3-linux-amd64.tgz for 3 units")
	assert.Contains(t, out, "the release server saw 1 download(s) of concourse-7.14.4-linux-amd64.tgz")
	assert.Equal(t, 2, strings.Count(out, "(found-installed)"), "the two other units must reuse the first one's download")
	assert.Contains(t, out, "upgrade record: complete -> idle")

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
