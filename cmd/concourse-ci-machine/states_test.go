package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/concourse-ci-machine/concourse-ci-machine/fsm"
)

func statesFor(t *testing.T, args ...string) result {
	t.Helper()
	return cli(t, append([]string{"states"}, args...)...)
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
			r := statesFor(t, tc.args...)
			assert.Equal(t, result{0, tc.want, ""}, r)
		})
	}
}

func TestStatesMermaidShowsTheProtocol(t *testing.T) {
	t.Parallel()
	r := statesFor(t, "--format", "mermaid", "--machine", "upgrade")
	require.Equal(t, 0, r.code, r.stderr)
	stdout := r.stdout
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
			r := statesFor(t, tc.args...)
			assert.Equal(t, 2, r.code, "usage errors exit with status 2")
			assert.True(t, strings.HasPrefix(r.stderr, "concourse-ci-machine states: "+tc.want), r.stderr)
			assert.Empty(t, r.stdout, "nothing half-printed")
		})
	}
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
