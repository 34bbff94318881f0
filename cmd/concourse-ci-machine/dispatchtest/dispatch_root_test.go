//go:build !unit

// Package dispatchtest runs the built concourse-ci-machine as Juju runs it:
// the charm's dispatch, one process per hook and action, with Juju's
// environment and executable hook tools that answer from an in-memory Juju,
// its services on a real private systemd. It needs root and the systemd
// package.
package dispatchtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/cmd/internal/localcluster"
	"github.com/concourse-ci-machine/concourse-ci-machine/fsm"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/fakeconcourse"
	"github.com/concourse-ci-machine/concourse-ci-machine/relation/jujutest"
	"github.com/concourse-ci-machine/concourse-ci-machine/relation/jujutest/jujuc"
	"github.com/concourse-ci-machine/concourse-ci-machine/services/systemdtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var dispatchBinary string

// TestMain builds the shipped binary once; this test binary itself plays
// the hook tools (run under a tool's name) and the fake Concourse.
func TestMain(m *testing.M) {
	fakeconcourse.RunIfRequested()
	if slices.Contains(jujutest.Tools(), filepath.Base(os.Args[0])) {
		os.Exit(jujuc.Main(os.Args, os.Stdin, os.Stdout, os.Stderr, os.Getenv))
	}
	dir, err := os.MkdirTemp("", "dispatchtest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	dispatchBinary = filepath.Join(dir, "concourse-ci-machine")
	if out, err := exec.Command("go", "build", "-o", dispatchBinary, "..").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build the charm's binary: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// cluster starts a private systemd and a local application of n units of
// the built binary, deployed and active.
func cluster(t testing.TB, n int, config map[string]any) (*localcluster.Cluster, *systemdtest.Instance) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	t.Cleanup(cancel)
	inst, err := systemdtest.Start(ctx)
	require.NoError(t, err, "a private systemd (root and the systemd package)")
	t.Cleanup(func() { _ = inst.Stop() })
	self, err := os.Executable()
	require.NoError(t, err)
	multi, err := inst.CopyExecutable(self)
	require.NoError(t, err)
	dispatch, err := inst.CopyExecutable(dispatchBinary)
	require.NoError(t, err)
	c, err := localcluster.Start(ctx, localcluster.Options{
		Units: n, Config: config, Releases: []string{"7.14.3", "7.14.4"}, Dispatch: dispatch, Multi: multi,
		Root: filepath.Join(inst.ScratchDir, "cluster"), Systemd: inst, DrainAfter: time.Second,
	})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	require.NoError(t, c.Deploy(ctx, n, 4*time.Minute))
	return c, inst
}

// callsOf lists the tool calls made by unit's hooks ("concourse-1-" ids).
func callsOf(c *localcluster.Cluster, unit string) [][]string {
	prefix := strings.ReplaceAll(unit, "/", "-") + "-"
	var out [][]string
	for _, call := range c.Tools().Calls() {
		if strings.HasPrefix(call.Context, prefix) {
			out = append(out, call.Argv)
		}
	}
	return out
}

func hasCall(calls [][]string, want ...string) bool {
	return slices.ContainsFunc(calls, func(argv []string) bool {
		return len(argv) >= len(want) && slices.Equal(argv[:len(want)], want)
	})
}

func runAction(t *testing.T, c *localcluster.Cluster, unit, name string, params map[string]any) *jujutest.Action {
	t.Helper()
	a := c.Model.RunAction(unit, name, params)
	require.NoError(t, c.WaitFor(context.Background(), 2*time.Minute, "action "+name, func() (bool, error) { return a.Done, nil }))
	return a
}

// Every hook and action, as the built binary, on the leader and on a
// non-leader: the tools it calls in Juju's argv forms, what it writes, and
// the units it leaves running on the private systemd.
func TestEveryHookAndActionOfTheBuiltBinary(t *testing.T) {
	ctx := context.Background()
	c, inst := cluster(t, 2, nil)
	leader, other := "concourse/0", "concourse/1"
	require.Equal(t, leader, c.Model.Leader("concourse"))

	// The deploy hooks ran in Juju's order and set up real units.
	out, err := inst.Systemctl(ctx, "is-active", "concourse-web-concourse-0.service", "concourse-worker-concourse-1.service")
	require.NoError(t, err, "%s", out)
	unitFile, err := os.ReadFile(filepath.Join(inst.ManagerRoot, "etc/systemd/system/concourse-worker-concourse-1.service"))
	require.NoError(t, err)
	assert.Contains(t, string(unitFile), "/releases/7.14.3/concourse/bin/concourse worker", "the worker runs the pinned release directory")
	assert.Contains(t, string(unitFile), "drain-worker", "stopping drains through the charm's own helper")

	// Tools: Juju's argv forms; only the leader writes the application bag.
	lc, oc := callsOf(c, leader), callsOf(c, other)
	for _, form := range [][]string{
		{"relation-ids", "--format=json", "peers"},
		{"relation-list", "--format=json", "-r", "peers:0"},
		{"relation-get", "--format=json", "-r", "peers:0", "--app", "-", "concourse"},
		{"relation-set", "-r", "peers:0", "--file", "-"},
		{"config-get", "--all", "--format=json"},
		{"is-leader", "--format=json"},
		{"storage-get", "-s", "concourse-data/1", "location"},
	} {
		assert.True(t, hasCall(oc, form...), "the non-leader called %v", form)
	}
	assert.True(t, hasCall(lc, "relation-set", "-r", "peers:0", "--app", "--file", "-"), "the leader writes the record")
	assert.True(t, hasCall(lc, "status-set", "--application"), "the leader sets the application status")
	assert.True(t, hasCall(lc, "application-version-set", "7.14.3"))
	assert.False(t, hasCall(oc, "relation-set", "-r", "peers:0", "--app"), "a non-leader never writes the application bag")
	assert.False(t, hasCall(oc, "status-set", "--application"))
	assert.True(t, hasCall(lc, "open-port"), "web opens its port")

	// Hooks that change nothing, and one the charm does not know.
	for _, hook := range []string{"update-status", "upgrade-charm", "leader-settings-changed", "collect-metrics"} {
		for _, u := range []string{leader, other} {
			before := len(c.Took(hook))
			c.Model.Trigger(u, hook)
			require.NoError(t, c.WaitFor(ctx, time.Minute, hook, func() (bool, error) { return len(c.Took(hook)) > before, nil }))
		}
	}
	assert.True(t, slices.ContainsFunc(c.Model.Logs(leader), func(l string) bool { return strings.Contains(l, "collect-metrics is not one this charm handles") }))
	assert.Equal(t, "active", string(c.Model.Status(other).State))

	// A config change reaches the services (their environment changes).
	c.Model.SetConfig("concourse", map[string]any{"log-level": "debug"})
	env := filepath.Join(inst.ScratchDir, "cluster", "state", "concourse-1", "worker.env")
	require.NoError(t, c.WaitFor(ctx, time.Minute, "the new log level", func() (bool, error) {
		data, err := os.ReadFile(env)
		return err == nil && strings.Contains(string(data), `CONCOURSE_LOG_LEVEL="debug"`), nil
	}))
	info, err := os.Stat(env)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "environment files hold secrets")

	// Actions, on a non-leader and on the leader.
	st := runAction(t, c, other, fsm.ActionUpgradeStatus, nil)
	assert.False(t, st.Failed, st.Message)
	assert.Equal(t, "idle", st.Results["phase"])
	assert.Equal(t, "7.14.3", st.Results["version"])
	assert.NotEmpty(t, st.Results["units.concourse-1.seen-revision"])
	for _, tc := range []struct {
		unit, action string
		params       map[string]any
		message      string
	}{
		{other, fsm.ActionUpgrade, map[string]any{"version": "7.14.4"}, "juju run concourse/leader upgrade"},
		{other, fsm.ActionGetAdminPassword, nil, "does not run web"},
		{leader, fsm.ActionUpgradeAbort, nil, "not possible in phase idle"},
		{leader, fsm.ActionUpgradeRetry, nil, "not possible in phase idle"},
		{leader, fsm.ActionUpgradeRollback, nil, "not possible in phase idle"},
		{leader, fsm.ActionUpgrade, map[string]any{"version": "7.14.3"}, "already the settled release"},
	} {
		a := runAction(t, c, tc.unit, tc.action, tc.params)
		assert.True(t, a.Failed, "%s on %s", tc.action, tc.unit)
		assert.Contains(t, a.Message, tc.message, "%s on %s", tc.action, tc.unit)
	}
	pw := runAction(t, c, leader, fsm.ActionGetAdminPassword, nil)
	require.False(t, pw.Failed, pw.Message)
	assert.Len(t, pw.Results["password"], 32)
	assert.Equal(t, "admin", pw.Results["username"])

	_, err = c.Upgrade(ctx, "7.14.4", 4*time.Minute)
	require.NoError(t, err)
	again := runAction(t, c, leader, fsm.ActionUpgradeAbort, nil)
	assert.True(t, again.Failed, "nothing to abort once it finished")

	// Removing a unit: departed on the others, then its own departed,
	// broken, storage-detaching, stop and remove; its worker retires.
	c.Model.RemoveUnit(other)
	require.NoError(t, c.WaitFor(ctx, 2*time.Minute, "the unit's remove hook", func() (bool, error) {
		return len(c.Took("remove")) > 0, nil
	}))
	out, err = inst.Systemctl(ctx, "list-units", "--all", "--no-legend", "concourse-worker-concourse-1.service")
	require.NoError(t, err)
	assert.NotContains(t, string(out), "concourse-worker-concourse-1", "its services are gone")
	received, err := os.ReadFile(filepath.Join(inst.ScratchDir, "cluster", "fake", fakeconcourse.ReceivedFile))
	require.NoError(t, err)
	assert.Contains(t, string(received), "received SIGUSR2", "a removed unit's worker retires from the ATC")
	for _, hook := range []string{"peers-relation-departed", "peers-relation-broken", "stop", "remove"} {
		assert.NotEmpty(t, c.Took(hook), hook)
	}
}

// A hook whose last tool call fails after it wrote relation data: Juju drops
// the writes and runs the hook again, which converges.
func TestHookThatFailsAfterWritingConverges(t *testing.T) {
	ctx := context.Background()
	c, _ := cluster(t, 2, nil)
	c.Tools().FailNext("status-set", 2)
	_, err := c.Upgrade(ctx, "7.14.4", 4*time.Minute)
	require.NoError(t, err)
	failed := 0
	for i, call := range c.Tools().Calls() {
		if filepath.Base(call.Argv[0]) != "status-set" {
			continue
		}
		// The failing calls came after this hook's relation-set.
		for _, earlier := range c.Tools().Calls()[:i] {
			if earlier.Context == call.Context && filepath.Base(earlier.Argv[0]) == "relation-set" {
				failed++
				break
			}
		}
	}
	assert.NotZero(t, failed)
	rec, err := fsm.DecodeRecord(c.Model.AppBag("concourse"))
	require.NoError(t, err)
	assert.Equal(t, "7.14.4", rec.Version.String())
}

// BenchmarkDispatchColdStart reports the median wall time of the built
// dispatch for a hook with nothing to do (update-status at rest, and a hook
// the charm does not know), over 100 runs each: the process start, the
// environment, the tool calls through the socket, the volume, systemd.
func BenchmarkDispatchColdStart(b *testing.B) {
	c, _ := cluster(b, 1, nil)
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		for _, hook := range []string{"update-status", "collect-metrics"} {
			before := len(c.Took(hook))
			for n := 1; n <= 100; n++ {
				// One at a time: Juju (and the model) coalesce a hook that
				// is already pending.
				c.Model.Trigger("concourse/0", hook)
				require.NoError(b, c.WaitFor(ctx, time.Minute, hook, func() (bool, error) { return len(c.Took(hook)) >= before+n, nil }))
			}
			runs := c.Took(hook)[before:]
			sort.Slice(runs, func(i, j int) bool { return runs[i] < runs[j] })
			b.ReportMetric(float64(runs[len(runs)/2].Microseconds())/1000, "ms-median-"+hook)
		}
	}
}
