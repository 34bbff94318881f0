package jujutest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/concourse-ci-machine/concourse-ci-machine/relation"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// buildJujuc builds the tool client once per test.
func buildJujuc(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "jujuc")
	out, err := exec.Command("go", "build", "-o", bin, "./cmd/jujuc").CombinedOutput()
	require.NoError(t, err, "%s", out)
	return bin
}

// The production Exec, running real tool processes, reaches the model
// through jujuc and the server and sees exactly what the hook sees
// in-process: the two sides of the argv forms agree.
func TestExecThroughToolsAgreesWithTheModel(t *testing.T) {
	t.Parallel()
	jujuc := buildJujuc(t)
	dir, err := os.MkdirTemp("", "jujutest-") // short: a unix socket path is limited
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	srv, err := Serve(dir, jujuc)
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })

	m, r := deploy(t, 2)
	settle(t, m, r.dispatch)
	m.AddSecret("secret:pg", map[string]string{"password": "pw"})
	a := m.RunAction("app/0", "upgrade", map[string]any{"version": "7.14.4"})
	h := m.Begin("app/0")
	defer srv.Register("ctx-1", h.Juju())()
	x := relation.Exec{Path: srv.ToolsDir, Env: []string{EnvSocket + "=" + srv.Socket, EnvContext + "=ctx-1"}}
	in := h.Juju()
	ctx := context.Background()

	leader, err := x.IsLeader(ctx)
	require.NoError(t, err)
	assert.True(t, leader)
	ids, err := x.RelationIDs(ctx, "peers")
	require.NoError(t, err)
	assert.Equal(t, []string{"peers:0"}, ids)
	units, err := x.RelationList(ctx, "peers:0")
	require.NoError(t, err)
	assert.Equal(t, []string{"app/1"}, units)
	remote, err := x.RelationRemoteApp(ctx, "peers:0")
	require.NoError(t, err)
	assert.Equal(t, "app", remote)
	require.NoError(t, x.RelationSet(ctx, "peers:0", true, map[string]string{"upgrade-last-error": "a: b=c\nd"}))
	require.NoError(t, x.RelationSet(ctx, "peers:0", false, map[string]string{"address": "10.0.0.1"}))
	viaTools, err := x.RelationGet(ctx, "peers:0", "app", true)
	require.NoError(t, err)
	inProcess, err := in.RelationGet(ctx, "peers:0", "app", true)
	require.NoError(t, err)
	assert.Equal(t, inProcess, viaTools)
	assert.Equal(t, "a: b=c\nd", viaTools["upgrade-last-error"], "values pass whole")
	own, err := x.RelationGet(ctx, "peers:0", "app/0", false)
	require.NoError(t, err)
	assert.Equal(t, "10.0.0.1", own["address"])
	cfg, err := x.ConfigGet(ctx)
	require.NoError(t, err)
	assert.Equal(t, "auto", cfg["mode"])
	params, err := x.ActionGet(ctx)
	require.NoError(t, err)
	assert.Equal(t, "7.14.4", params["version"])
	require.NoError(t, x.ActionSet(ctx, map[string]string{"phase": "prepare", "units.app-1.error": "x=y"}))
	require.NoError(t, x.ActionLog(ctx, "staging"))
	require.NoError(t, x.StatusSet(ctx, relation.Status{State: relation.Maintenance, Message: "Upgrade to 7.14.4: draining"}))
	require.NoError(t, x.StatusSet(ctx, relation.Status{Application: true, State: relation.Active, Message: "ok"}))
	require.NoError(t, x.ApplicationVersionSet(ctx, "7.14.3"))
	require.NoError(t, x.Log(ctx, relation.LogInfo, "hello"))
	loc, err := x.StorageGet(ctx, "concourse-data/0", "location")
	require.NoError(t, err)
	assert.Equal(t, m.Unit("app/0").Storage, loc)
	sids, err := x.StorageList(ctx, "concourse-data")
	require.NoError(t, err)
	assert.Equal(t, []string{"concourse-data/0"}, sids)
	require.NoError(t, x.OpenPort(ctx, 8080, "tcp"))
	require.NoError(t, x.OpenPort(ctx, 2222, "tcp"))
	require.NoError(t, x.ClosePort(ctx, 2222, "tcp"))
	require.NoError(t, x.ClosePort(ctx, 2223, "tcp"), "closing a port that is not open is no error")
	open, err := x.OpenedPorts(ctx)
	require.NoError(t, err)
	assert.Empty(t, open, "the hook's own port changes are not committed yet")
	n, err := x.NetworkGet(ctx, "peers")
	require.NoError(t, err)
	assert.Equal(t, m.Unit("app/0").Address, n.IngressAddress())
	secret, err := x.SecretGet(ctx, "secret:pg", false)
	require.NoError(t, err)
	assert.Equal(t, "pw", secret["password"])
	m.AddSecret("secret:pg", map[string]string{"password": "pw-2"})
	secret, err = x.SecretGet(ctx, "secret:pg", false)
	require.NoError(t, err)
	assert.Equal(t, "pw", secret["password"], "without --refresh: the revision the unit tracks")
	secret, err = x.SecretGet(ctx, "secret:pg", true)
	require.NoError(t, err)
	assert.Equal(t, "pw-2", secret["password"], "--refresh: the newest")

	// Refusals come back as tool failures with Juju's words.
	_, err = x.ResourceGet(ctx, "concourse-release")
	var te *relation.ToolError
	require.ErrorAs(t, err, &te)
	assert.Contains(t, te.Stderr, `resource "concourse-release" not found`)
	var inProcessErr *relation.ToolError
	_, err = in.ResourceGet(ctx, "concourse-release")
	require.ErrorAs(t, err, &inProcessErr, "one error type in both tiers")
	assert.Equal(t, inProcessErr.Stderr+"\n", te.Stderr, "the tool prints what the model said, once")
	assert.Equal(t, inProcessErr.ExitCode, te.ExitCode)
	_, err = x.RelationGet(ctx, "peers:0", "app/7", false)
	require.ErrorAs(t, err, &te)
	assert.Contains(t, te.Stderr, "permission denied")

	require.NoError(t, h.Run(ctx, func(context.Context, relation.Context, relation.Juju) error { return nil }))
	require.NoError(t, h.Commit())
	assert.Equal(t, map[string]string{"phase": "prepare", "units.app-1.error": "x=y"}, a.Results)
	assert.Equal(t, "a: b=c\nd", m.AppBag("app")["upgrade-last-error"])
	assert.Equal(t, relation.Status{State: relation.Maintenance, Message: "Upgrade to 7.14.4: draining"}, m.Status("app/0"))
	assert.Equal(t, []string{"8080/tcp"}, m.Ports("app/0"))

	m.Tick(0)
	h = m.Begin("app/0")
	defer srv.Register("ctx-2", h.Juju())()
	x.Env = []string{EnvSocket + "=" + srv.Socket, EnvContext + "=ctx-2"}
	open, err = x.OpenedPorts(ctx)
	require.NoError(t, err)
	assert.Equal(t, []relation.Port{relation.TCP(8080)}, open, "opened-ports lists the committed ports")
	h.CutOff()
}

func TestToolsRefuseBadArgv(t *testing.T) {
	t.Parallel()
	m, r := deploy(t, 1)
	settle(t, m, r.dispatch)
	m.Tick(0)
	h := m.Begin("app/0")
	j := h.Juju()
	for _, argv := range [][]string{
		{"relation-get", "--format=json", "-r", "peers:0", "--bogus", "-", "app/0"},
		{"relation-get", "--format=json", "-r", "peers:0", "app/0"},
		{"status-set"},
		{"open-port", "http"},
		{"close-port"},
		{"close-port", "2222/tcp", "8080/tcp"},
		{"opened-ports", "--endpoints"},
		{"teleport"},
	} {
		_, err := call(context.Background(), j, argv, nil)
		var u *usageError
		assert.ErrorAs(t, err, &u, "%v", argv)
	}
	h.CutOff()
}
