package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDrainWorkerSubcommand: the subcommand is wired to the drain helper
// (a missing main process is recorded as such) and bad flags are usage
// errors. The drain itself is tested against a real systemd in services.
func TestDrainWorkerSubcommand(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	state := t.TempDir()
	var stdout, stderr bytes.Buffer
	getenv := func(string) string { return "" }

	code := run(ctx, []string{"drain-worker", "--timeout=1s", "--grace=1s", "--state-dir=" + state}, getenv, &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())
	data, err := os.ReadFile(filepath.Join(state, "result"))
	require.NoError(t, err)
	var rec map[string]any
	require.NoError(t, json.Unmarshal(data, &rec))
	assert.Equal(t, "not-running", rec["ended"])

	assert.Equal(t, 2, run(ctx, []string{"drain-worker", "--bogus"}, getenv, &stdout, &stderr))
	assert.Equal(t, 2, run(ctx, []string{"drain-worker", "--state-dir=relative"}, getenv, &stdout, &stderr))
	assert.Equal(t, 0, run(ctx, []string{"drain-worker", "--help"}, getenv, &stdout, &stderr))
}
