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

	"github.com/concourse-ci-machine/concourse-ci-machine/fsm"
)

func runStatesFor(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = runStates(context.Background(), args, &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestStatesFormats(t *testing.T) {
	t.Parallel()
	upgrade, install := fsm.UpgradeTable(), fsm.InstallTable()
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"default is a table of every machine", nil, fsm.TextTable(upgrade, docNotes) + "\n" + fsm.TextTable(install, docNotes)},
		{"mermaid upgrade", []string{"--format", "mermaid", "--machine", "upgrade"}, fsm.Mermaid(upgrade)},
		{"dot install", []string{"--format=dot", "--machine=install"}, fsm.Dot(install)},
		{"dot all", []string{"--format", "dot"}, fsm.Dot(upgrade) + "\n" + fsm.Dot(install)},
		{"table upgrade", []string{"--format", "table", "--machine", "upgrade"}, fsm.TextTable(upgrade, docNotes)},
		{"markdown is docs/states.md", []string{"--format", "markdown"}, fsm.Markdown(fsm.Tables(), docNotes)},
		{"markdown of one machine", []string{"--format", "markdown", "--machine", "upgrade"}, fsm.Markdown([]fsm.Table{upgrade}, docNotes)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			stdout, stderr, err := runStatesFor(t, tc.args...)
			require.NoError(t, err)
			assert.Equal(t, tc.want, stdout)
			assert.Empty(t, stderr)
		})
	}
}

func TestStatesMermaidShowsTheProtocol(t *testing.T) {
	t.Parallel()
	stdout, _, err := runStatesFor(t, "--format", "mermaid", "--machine", "upgrade")
	require.NoError(t, err)
	for _, edge := range []string{
		"[*] --> idle", "idle --> prepare: initiate", "prepare --> downloading: workers-ready",
		"downloading --> complete: download-verified", "complete --> idle: finish", "prepare --> idle: abort",
		"downloading --> failed: download-failed", "failed --> prepare: retry", "failed --> idle: rollback",
	} {
		assert.Contains(t, stdout, edge)
	}
}

func TestStatesBadInvocation(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unknown format", []string{"--format", "svg"}, `unknown --format "svg"; use mermaid, dot, table or markdown`},
		{"unknown machine", []string{"--machine", "deploy"}, `unknown --machine "deploy"; use upgrade, install or all`},
		{"stray argument", []string{"upgrade"}, `unexpected argument "upgrade"`},
		{"unknown flag", []string{"--colour"}, "flag provided but not defined: -colour"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			stdout, _, err := runStatesFor(t, tc.args...)
			require.Error(t, err)
			assert.True(t, errors.Is(err, errUsage), "usage errors exit with status 2: %v", err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Empty(t, stdout, "nothing half-printed")
		})
	}
}

func TestStatesHelpAndExitCodes(t *testing.T) {
	t.Parallel()
	stdout, stderr, err := runStatesFor(t, "--help")
	require.NoError(t, err)
	assert.Empty(t, stdout)
	assert.Contains(t, stderr, "-format")
	assert.Contains(t, stderr, "upgrade, install or all")

	getenv := func(string) string { return "" }
	var out, errOut bytes.Buffer
	assert.Equal(t, 2, run(context.Background(), []string{"states", "--format", "png"}, getenv, &out, &errOut))
	assert.True(t, strings.HasPrefix(errOut.String(), "concourse-ci-machine states: usage: unknown --format"), errOut.String())
	out.Reset()
	assert.Equal(t, 0, run(context.Background(), []string{"states", "--machine", "upgrade"}, getenv, &out, &errOut))
	assert.Equal(t, fsm.TextTable(fsm.UpgradeTable(), docNotes), out.String())
}

// TestDocsStatesUpToDate fails when docs/states.md differs from what the
// tables and the charm's annotations generate: they are the truth, the file
// is a copy (make docs).
func TestDocsStatesUpToDate(t *testing.T) {
	t.Parallel()
	committed, err := os.ReadFile(filepath.Join("..", "..", "docs", "states.md"))
	require.NoError(t, err, "docs/states.md is missing: run make docs")
	require.Equal(t, fsm.Markdown(fsm.Tables(), docNotes), string(committed), "docs/states.md is out of date: run make docs")
}
