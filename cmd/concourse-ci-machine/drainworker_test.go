package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDrainWorkerSubcommand: the subcommand is wired to the drain helper
// (a missing main process is recorded as such; every flag given reaches
// it) and bad flags are usage errors. The drain itself is tested against a
// real systemd in services; a bad flag's single report, for every command,
// in TestBadFlagIsReportedOnce.
func TestDrainWorkerSubcommand(t *testing.T) {
	t.Parallel()
	state := t.TempDir()

	r := cli(t, "drain-worker", "--timeout=1s", "--grace=1s", "--state-dir="+state)
	require.Equal(t, 0, r.code, r.stderr)
	data, err := os.ReadFile(filepath.Join(state, "result"))
	require.NoError(t, err)
	var rec map[string]any
	require.NoError(t, json.Unmarshal(data, &rec))
	assert.Equal(t, "not-running", rec["ended"])

	// --unmount-under only unmounts (nothing is mounted there): no result.
	other := t.TempDir()
	r = cli(t, "drain-worker", "--unmount-under="+other)
	require.Equal(t, 0, r.code, r.stderr)
	assert.NoFileExists(t, filepath.Join(other, "result"))

	synopsis := "usage: concourse-ci-machine drain-worker --state-dir DIR [--timeout D] [--grace D] | --unmount-under DIR\n" +
		"Run 'concourse-ci-machine help drain-worker' for details.\n"
	tests := []struct {
		args []string
		want string // the usage error
	}{
		{[]string{"--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"--state-dir=relative"}, `services: drain-worker --state-dir: "relative" is not an absolute path`},
		{nil, `services: drain-worker --state-dir: "" is not an absolute path`},
		{[]string{"--timeout=0s", "--state-dir=" + state}, "services: drain-worker --timeout/--grace: must be positive"},
		{[]string{"--grace=-1s", "--state-dir=" + state}, "services: drain-worker --timeout/--grace: must be positive"},
		{[]string{"--state-dir=" + state, "extra"}, `drain-worker takes no arguments, got ["extra"]`},
	}
	for _, tc := range tests {
		r := cli(t, append([]string{"drain-worker"}, tc.args...)...)
		assert.Equal(t, result{2, "", "concourse-ci-machine drain-worker: " + tc.want + "\n" + synopsis}, r, tc.args)
	}

	r = cli(t, "drain-worker", "--help")
	assert.Equal(t, 0, r.code)
	assert.Contains(t, r.stdout, "-state-dir")
	assert.Empty(t, r.stderr)
}
