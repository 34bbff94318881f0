package relation

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeTools writes every hook tool as a script that records its argv (one
// argument per line) and stdin, prints the canned answer of its name and
// exits with its canned status.
func fakeTools(t *testing.T, answers map[string]string, fail map[string]string) (dir, log string) {
	t.Helper()
	dir = t.TempDir()
	log = filepath.Join(dir, "calls")
	tools := []string{"is-leader", "relation-ids", "relation-list", "relation-get", "relation-set", "config-get",
		"action-get", "action-set", "action-fail", "action-log", "status-set", "application-version-set", "juju-log",
		"storage-get", "storage-list", "resource-get", "open-port", "close-port", "opened-ports", "network-get", "secret-get"}
	for _, tool := range tools {
		answer := filepath.Join(dir, tool+".out")
		require.NoError(t, os.WriteFile(answer, []byte(answers[tool]), 0o644))
		script := "#!/bin/sh\n{ echo \"== $(basename \"$0\")\"; for a in \"$@\"; do echo \"$a\"; done; echo '-- stdin'; if [ ! -t 0 ]; then cat; fi; echo; } >> " + log + "\n"
		if msg, ok := fail[tool]; ok {
			script += "echo '" + msg + "' >&2\nexit 3\n"
		} else {
			script += "cat " + answer + "\n"
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, tool), []byte(script), 0o755))
	}
	return dir, log
}

// calls reads the recorded calls back as argv lists (stdin dropped).
func calls(t *testing.T, log string) [][]string {
	t.Helper()
	data, err := os.ReadFile(log)
	require.NoError(t, err)
	var out [][]string
	for _, block := range strings.Split(string(data), "== ")[1:] {
		lines := strings.Split(block, "\n")
		var argv []string
		for _, l := range lines {
			if l == "-- stdin" {
				break
			}
			argv = append(argv, l)
		}
		out = append(out, argv)
	}
	return out
}

// relation-list --app answers the remote application's name as a JSON
// string.
func TestExecRelationRemoteApp(t *testing.T) {
	t.Parallel()
	dir, log := fakeTools(t, map[string]string{"relation-list": `"postgresql"` + "\n"}, nil)
	app, err := Exec{Path: dir}.RelationRemoteApp(context.Background(), "postgresql:4")
	require.NoError(t, err)
	assert.Equal(t, "postgresql", app)
	assert.Equal(t, [][]string{{"relation-list", "--format=json", "-r", "postgresql:4", "--app"}}, calls(t, log))
}

// Every tool is run with Juju's argv forms and its JSON answer is read.
func TestExecArgvForms(t *testing.T) {
	t.Parallel()
	dir, log := fakeTools(t, map[string]string{
		"is-leader":     "true",
		"relation-ids":  `["peers:3"]`,
		"relation-list": `["concourse/2","concourse/1"]`,
		"relation-get":  `{"upgrade-phase":"idle"}`,
		"config-get":    `{"mode":"auto","web-port":8080}`,
		"action-get":    `{"version":"7.14.4"}`,
		"storage-get":   "/var/lib/concourse\n",
		"storage-list":  `["concourse-data/0"]`,
		"resource-get":  "/var/lib/juju/resources/concourse-release/x.tgz\n",
		"network-get":   `{"bind-addresses":[{"interface-name":"eth0","addresses":[{"value":"10.0.0.5","cidr":"10.0.0.0/24"}]}],"ingress-addresses":["10.0.0.5"]}`,
		"secret-get":    `{"password":"s3cret"}`,
		"opened-ports":  "8080/tcp\n2222/tcp\n",
	}, nil)
	x := Exec{Path: dir}
	ctx := context.Background()

	leader, err := x.IsLeader(ctx)
	require.NoError(t, err)
	assert.True(t, leader)
	ids, err := x.RelationIDs(ctx, "peers")
	require.NoError(t, err)
	assert.Equal(t, []string{"peers:3"}, ids)
	units, err := x.RelationList(ctx, "peers:3")
	require.NoError(t, err)
	assert.Equal(t, []string{"concourse/1", "concourse/2"}, units)
	bag, err := x.RelationGet(ctx, "peers:3", "concourse/1", false)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"upgrade-phase": "idle"}, bag)
	_, err = x.RelationGet(ctx, "peers:3", "concourse", true)
	require.NoError(t, err)
	require.NoError(t, x.RelationSet(ctx, "peers:3", true, map[string]string{"upgrade-phase": "prepare", "upgrade-last-error": "a: b=c\nd"}))
	require.NoError(t, x.RelationSet(ctx, "peers:3", false, map[string]string{"address": ""}))
	cfg, err := x.ConfigGet(ctx)
	require.NoError(t, err)
	assert.Equal(t, json.Number("8080"), cfg["web-port"], "numbers stay numbers, not floats")
	params, err := x.ActionGet(ctx)
	require.NoError(t, err)
	assert.Equal(t, "7.14.4", params["version"])
	require.NoError(t, x.ActionSet(ctx, map[string]string{"phase": "prepare", "units.concourse-1.error": "x=y"}))
	require.NoError(t, x.ActionFail(ctx, "no: run it on the leader"))
	require.NoError(t, x.ActionLog(ctx, "staging"))
	require.NoError(t, x.StatusSet(ctx, Status{State: Waiting, Message: "Waiting for Concourse 7.14.3"}))
	require.NoError(t, x.StatusSet(ctx, Status{Application: true, State: Active, Message: "ok"}))
	require.NoError(t, x.ApplicationVersionSet(ctx, "7.14.3"))
	require.NoError(t, x.Log(ctx, LogWarning, "careful"))
	loc, err := x.StorageGet(ctx, "concourse-data/0", "location")
	require.NoError(t, err)
	assert.Equal(t, "/var/lib/concourse", loc)
	sids, err := x.StorageList(ctx, "concourse-data")
	require.NoError(t, err)
	assert.Equal(t, []string{"concourse-data/0"}, sids)
	path, err := x.ResourceGet(ctx, "concourse-release")
	require.NoError(t, err)
	assert.Equal(t, "/var/lib/juju/resources/concourse-release/x.tgz", path)
	require.NoError(t, x.OpenPort(ctx, 8080, "tcp"))
	require.NoError(t, x.ClosePort(ctx, 2222, "tcp"))
	open, err := x.OpenedPorts(ctx)
	require.NoError(t, err)
	assert.Equal(t, []Port{TCP(8080), TCP(2222)}, open)
	n, err := x.NetworkGet(ctx, "peers")
	require.NoError(t, err)
	assert.Equal(t, "10.0.0.5", n.IngressAddress())
	secret, err := x.SecretGet(ctx, "secret:abc", true)
	require.NoError(t, err)
	assert.Equal(t, "s3cret", secret["password"])

	assert.Equal(t, [][]string{
		{"is-leader", "--format=json"},
		{"relation-ids", "--format=json", "peers"},
		{"relation-list", "--format=json", "-r", "peers:3"},
		{"relation-get", "--format=json", "-r", "peers:3", "-", "concourse/1"},
		{"relation-get", "--format=json", "-r", "peers:3", "--app", "-", "concourse"},
		{"relation-set", "-r", "peers:3", "--app", "--file", "-"},
		{"relation-set", "-r", "peers:3", "--file", "-"},
		{"config-get", "--all", "--format=json"},
		{"action-get", "--format=json"},
		{"action-set", "phase=prepare", "units.concourse-1.error=x=y"},
		{"action-fail", "no: run it on the leader"},
		{"action-log", "staging"},
		{"status-set", "waiting", "Waiting for Concourse 7.14.3"},
		{"status-set", "--application", "active", "ok"},
		{"application-version-set", "7.14.3"},
		{"juju-log", "-l", "WARNING", "careful"},
		{"storage-get", "-s", "concourse-data/0", "location"},
		{"storage-list", "concourse-data", "--format=json"},
		{"resource-get", "concourse-release"},
		{"open-port", "8080/tcp"},
		{"close-port", "2222/tcp"},
		{"opened-ports"},
		{"network-get", "peers", "--format=json"},
		{"secret-get", "secret:abc", "--refresh", "--format=json"},
	}, calls(t, log))

	// relation-set reads a YAML mapping (written as JSON) from stdin:
	// values with "=", ":" and newlines pass whole.
	data, err := os.ReadFile(log)
	require.NoError(t, err)
	assert.Contains(t, string(data), `{"upgrade-last-error":"a: b=c\nd","upgrade-phase":"prepare"}`)
	assert.Contains(t, string(data), `{"address":""}`, "an empty value deletes the key")
}

// opened-ports prints one port a line: single ports, ranges and icmp are
// read as such, nothing open is an empty list, and a line that is no port
// is a ToolError around a PortLineError naming it.
func TestExecOpenedPorts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		out  string
		want []Port
		bad  string
	}{
		{out: "", want: []Port{}},
		{out: "\n", want: []Port{}},
		{out: "8080/tcp\n", want: []Port{TCP(8080)}},
		{out: "8000-8010/udp\nicmp\n53/udp\n", want: []Port{{Protocol: "udp", From: 8000, To: 8010}, {Protocol: "icmp"}, {Protocol: "udp", From: 53, To: 53}}},
		{out: "8080/tcp\nhttp\n", bad: "http"},
		{out: "8080\n", bad: "8080"},
		{out: "0/tcp\n", bad: "0/tcp"},
		{out: "70000/tcp\n", bad: "70000/tcp"},
		{out: "10-5/tcp\n", bad: "10-5/tcp"},
		{out: "80/sctp\n", bad: "80/sctp"},
		{out: "8080/tcp (web)\n", bad: "8080/tcp (web)"},
	} {
		dir, _ := fakeTools(t, map[string]string{"opened-ports": tc.out}, nil)
		got, err := Exec{Path: dir}.OpenedPorts(context.Background())
		if tc.bad != "" {
			var te *ToolError
			var le *PortLineError
			require.ErrorAs(t, err, &te, "%q", tc.out)
			assert.Equal(t, []string{"opened-ports"}, te.Argv)
			require.ErrorAs(t, err, &le, "%q", tc.out)
			assert.Equal(t, tc.bad, le.Line)
			continue
		}
		require.NoError(t, err, "%q", tc.out)
		assert.Equal(t, tc.want, got, "%q", tc.out)
	}
	for _, p := range []Port{TCP(8080), {Protocol: "udp", From: 8000, To: 8010}, {Protocol: "icmp"}} {
		back, err := ParsePort(p.String())
		require.NoError(t, err)
		assert.Equal(t, p, back, "String and ParsePort agree")
	}
}

func TestExecToolErrorCarriesArgvAndStderr(t *testing.T) {
	t.Parallel()
	dir, _ := fakeTools(t, map[string]string{"config-get": "not json"}, map[string]string{"relation-set": "ERROR cannot write relation settings"})
	x := Exec{Path: dir}
	err := x.RelationSet(context.Background(), "peers:0", true, map[string]string{"k": "v"})
	var te *ToolError
	require.ErrorAs(t, err, &te)
	assert.Equal(t, []string{"relation-set", "-r", "peers:0", "--app", "--file", "-"}, te.Argv)
	assert.Equal(t, 3, te.ExitCode)
	assert.Contains(t, te.Stderr, "cannot write relation settings")
	assert.Contains(t, err.Error(), "relation-set -r peers:0 --app --file -")

	_, err = x.ConfigGet(context.Background())
	require.ErrorAs(t, err, &te)
	assert.Contains(t, err.Error(), "unreadable output \"not json\"")

	err = x.ActionSet(context.Background(), map[string]string{"Bad_Key": "v"})
	var ke *ActionKeyError
	require.ErrorAs(t, err, &ke, "a key action-set would refuse is refused before running it")

	_, err = Exec{Path: t.TempDir()}.IsLeader(context.Background())
	require.ErrorAs(t, err, &te, "a missing tool is a ToolError too")
}
