package main

import (
	"errors"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStampOf(t *testing.T) {
	t.Parallel()
	vcs := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Version: "v0.0.0-20261201043400-a5674c3e8b5a+dirty"},
		Settings: []debug.BuildSetting{
			{Key: "-buildmode", Value: "exe"},
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "a5674c3e8b5a0000000000000000000000000000"},
			{Key: "vcs.time", Value: "2026-12-01T04:34:00Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	bare := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}
	tests := []struct {
		name            string
		info            *debug.BuildInfo
		ok              bool
		version, commit string // what make build sets
		want            string
	}{
		{"go build in a clone", vcs, true, "", "",
			"concourse-ci-machine v0.0.0-20261201043400-a5674c3e8b5a+dirty (go1.26.8)\n" +
				"commit a5674c3e8b5a0000000000000000000000000000 of 2026-12-01T04:34:00Z, with uncommitted changes\n"},
		{"go build without VCS information", bare, true, "", "",
			"concourse-ci-machine (devel) (go1.26.8)\ncommit unknown (built without VCS information)\n"},
		{"make build", bare, true, "v1.2.0-3-g92148a7-dirty", "92148a7c8e236a6dcea244cba49d701f15bccea3",
			"concourse-ci-machine v1.2.0-3-g92148a7-dirty (go1.26.8)\ncommit 92148a7c8e236a6dcea244cba49d701f15bccea3\n"},
		{"make build wins over the go command's stamp", vcs, true, "92148a7", "92148a7c8e236a6dcea244cba49d701f15bccea3",
			"concourse-ci-machine 92148a7 (go1.26.8)\ncommit 92148a7c8e236a6dcea244cba49d701f15bccea3\n"},
		{"no build information", nil, false, "", "",
			"concourse-ci-machine (devel)\ncommit unknown (built without VCS information)\n"},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, stampOf(tc.info, tc.ok, tc.version, tc.commit).String(), tc.name)
	}
}

// make build stamps the checkout's commit into the binary, also in a git
// worktree and under GOFLAGS=-buildvcs=false, where the go command's own
// stamp is empty.
func TestMakeBuildStampsTheCommit(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	head, err := exec.Command("git", "-C", root, "rev-parse", "HEAD").Output()
	if exit, ok := errors.AsType[*exec.ExitError](err); ok {
		t.Fatalf("the tests run in a git checkout that git reads: git rev-parse HEAD: %v: %s", err, exit.Stderr)
	}
	require.NoError(t, err)
	bin := filepath.Join(t.TempDir(), "concourse-ci-machine")
	build := exec.Command("make", "-C", root, "--no-print-directory", "build", "BIN="+bin)
	build.Env = append(build.Environ(), "GOFLAGS=-buildvcs=false")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)

	out, err = exec.Command(bin, "version").Output()
	require.NoError(t, err)
	lines := strings.Split(string(out), "\n")
	require.Len(t, lines, 3, "%s", out)
	assert.Regexp(t, `^concourse-ci-machine [^ ()]+ \(go[0-9.]+\)$`, lines[0], "git describe's version")
	assert.Equal(t, "commit "+strings.TrimSpace(string(head)), lines[1])
}
