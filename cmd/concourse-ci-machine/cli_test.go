package main

import (
	"encoding/json"
	"errors"
	"flag"
	"path/filepath"
	"strings"
	"testing"

	"github.com/concourse-ci-machine/concourse-ci-machine/storage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Without arguments the usage goes to stderr and the exit status is 2, as
// the go command does; asked for, help goes to stdout with status 0.
func TestUsageAndHelp(t *testing.T) {
	t.Parallel()
	r := binary(t)
	assert.Equal(t, 2, r.code)
	assert.Empty(t, r.stdout)
	assert.Contains(t, r.stderr, "usage: concourse-ci-machine COMMAND [ARGUMENTS]")
	for _, c := range commands() {
		assert.Contains(t, r.stderr, "\n  "+c.name+" ", "the list names every command")
	}
	usage := r.stderr

	for _, args := range [][]string{{"help"}, {"-h"}, {"-help"}, {"--help"}} {
		r := binary(t, args...)
		assert.Equal(t, 0, r.code, args)
		assert.Equal(t, usage, r.stdout, args)
		assert.Empty(t, r.stderr, args)
	}
}

// Every command's help is on stdout, exit 0, the same for `help NAME`,
// `NAME -h` and `NAME --help`.
func TestCommandHelp(t *testing.T) {
	t.Parallel()
	for _, c := range commands() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			want := cli(t, "help", c.name)
			require.Equal(t, 0, want.code)
			assert.Empty(t, want.stderr)
			assert.True(t, strings.HasPrefix(want.stdout, "usage: concourse-ci-machine "+c.name), want.stdout)
			assert.Contains(t, want.stdout, c.about)
			for _, flag := range []string{"-h", "--help"} {
				assert.Equal(t, want, cli(t, c.name, flag))
			}
		})
	}
}

// A bad flag is reported once, on stderr, with the synopsis, and exits 2:
// the flag package's own report and usage dump are silenced. Every command
// is checked, also those added later, as a process: whatever writes to the
// process's stderr is seen.
func TestBadFlagIsReportedOnce(t *testing.T) {
	t.Parallel()
	for _, c := range commands() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := binary(t, c.name, "--bogus", "x")
			assert.Equal(t, 2, r.code)
			assert.Empty(t, r.stdout)
			assert.Equal(t, "concourse-ci-machine "+c.name+": flag provided but not defined: -bogus\n"+
				"usage: "+c.synopsis()+"\n"+
				"Run 'concourse-ci-machine help "+c.name+"' for details.\n", r.stderr)
		})
	}
}

func TestUnknownCommandAndHelpTopic(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"demo"}, "concourse-ci-machine demo: unknown command\nRun 'concourse-ci-machine help' for usage.\n"},
		{[]string{"help", "demo"}, "concourse-ci-machine help demo: unknown command\nRun 'concourse-ci-machine help' for usage.\n"},
		{[]string{"help", "inspect", "install"}, "usage: concourse-ci-machine help [COMMAND]\n"},
		{[]string{"version", "extra"}, "concourse-ci-machine version: version takes no arguments\nusage: concourse-ci-machine version\nRun 'concourse-ci-machine help version' for details.\n"},
	}
	for _, tc := range tests {
		r := cli(t, tc.args...)
		assert.Equal(t, result{2, "", tc.want}, r, tc.args)
	}
}

// The commands on the shared volume name it the same way: VOLUME, the last
// argument; --volume DIR is another spelling of it.
func TestVolumeArgument(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	other := filepath.Join(dir, "other")
	tests := []struct {
		name string
		args []string
		want string // the usage error; "" when the arguments name dir
	}{
		{"argument", []string{dir}, ""},
		{"flag", []string{"--volume", dir}, ""},
		{"both, the same", []string{"--volume", dir, dir}, ""},
		{"both, different", []string{"--volume", dir, other}, "--volume " + dir + " and VOLUME " + other + " disagree"},
		{"missing", nil, "VOLUME, the shared volume's directory, is missing"},
		{"two", []string{dir, other}, `expected one VOLUME, got 2 arguments ["` + dir + `" "` + other + `"]`},
		{"flag after it", []string{dir, "--json"}, "--json after VOLUME: flags go before it"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			volume := volumeFlag(fs)
			require.NoError(t, fs.Parse(tc.args))
			got, err := volume.from(fs.Args())
			if tc.want == "" {
				require.NoError(t, err)
				assert.Equal(t, dir, got)
				return
			}
			_, isUsage := errors.AsType[*usageError](err)
			assert.True(t, isUsage, "%v", err)
			assert.EqualError(t, err, tc.want)
		})
	}
}

// Both spellings reach inspect (install: see its tests).
func TestInspectVolumeSpellings(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, args := range [][]string{{dir}, {"--volume", dir}} {
		r := cli(t, append([]string{"inspect", "--json"}, args...)...)
		require.Equal(t, 0, r.code, r.stderr)
		var report storage.Report
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &report))
		assert.Equal(t, dir, report.Root, args)
	}
}
