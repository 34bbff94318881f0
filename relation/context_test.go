package relation

import (
	"strings"
	"testing"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/unitname"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func envOf(kv ...string) func(string) string {
	m := map[string]string{}
	for _, s := range kv {
		k, v, _ := strings.Cut(s, "=")
		m[k] = v
	}
	return func(k string) string { return m[k] }
}

func TestParseContext(t *testing.T) {
	t.Parallel()
	c, err := ParseContext(envOf("JUJU_DISPATCH_PATH=hooks/peers-relation-changed", "JUJU_UNIT_NAME=concourse/2",
		"JUJU_MODEL_NAME=ci", "JUJU_CHARM_DIR=/var/lib/juju/agents/unit-concourse-2/charm", "JUJU_RELATION=peers",
		"JUJU_RELATION_ID=peers:0", "JUJU_REMOTE_APP=concourse", "JUJU_REMOTE_UNIT=concourse/1"))
	require.NoError(t, err)
	assert.Equal(t, Context{
		DispatchPath: "hooks/peers-relation-changed", Kind: KindHook, Hook: "peers-relation-changed",
		Unit: unitname.MustParse("concourse/2"), Model: "ci", CharmDir: "/var/lib/juju/agents/unit-concourse-2/charm",
		RelationName: "peers", RelationID: "peers:0", RemoteApp: "concourse", RemoteUnit: "concourse/1",
	}, c)

	a, err := ParseContext(envOf("JUJU_DISPATCH_PATH=actions/upgrade", "JUJU_ACTION_NAME=upgrade", "JUJU_UNIT_NAME=concourse/0"))
	require.NoError(t, err)
	assert.Equal(t, KindAction, a.Kind)
	assert.Equal(t, "upgrade", a.Action)
	assert.Empty(t, a.Hook)

	s, err := ParseContext(envOf("JUJU_DISPATCH_PATH=hooks/concourse-data-storage-attached", "JUJU_UNIT_NAME=concourse/0",
		"JUJU_STORAGE_ID=concourse-data/0", "JUJU_STORAGE_LOCATION=/var/lib/concourse"))
	require.NoError(t, err)
	assert.Equal(t, "/var/lib/concourse", s.StorageLocation)
}

// Env gives back what ParseContext reads: the models of Juju set exactly
// this for a dispatch.
func TestContextEnvRoundTrip(t *testing.T) {
	t.Parallel()
	for _, c := range []Context{
		HookContext(unitname.MustParse("a/1"), "install"),
		ActionContext(unitname.MustParse("a/0"), "upgrade-status"),
		{DispatchPath: "hooks/peers-relation-departed", Kind: KindHook, Hook: "peers-relation-departed", Unit: unitname.MustParse("a/3"),
			RelationName: "peers", RelationID: "peers:1", RemoteApp: "a", RemoteUnit: "a/1", DepartingUnit: "a/1"},
	} {
		env := map[string]string{}
		for _, kv := range c.Env() {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
		got, err := ParseContext(func(k string) string { return env[k] })
		require.NoError(t, err)
		assert.Equal(t, c, got)
	}
}

func TestParseContextNamesTheBadVariable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		env      []string
		variable string
		problem  string
	}{
		{"no dispatch path", []string{"JUJU_UNIT_NAME=a/0"}, "JUJU_DISPATCH_PATH", "is not set"},
		{"bad dispatch path", []string{"JUJU_DISPATCH_PATH=install", "JUJU_UNIT_NAME=a/0"}, "JUJU_DISPATCH_PATH", "neither"},
		{"nested dispatch path", []string{"JUJU_DISPATCH_PATH=hooks/a/b", "JUJU_UNIT_NAME=a/0"}, "JUJU_DISPATCH_PATH", "neither"},
		{"other kind", []string{"JUJU_DISPATCH_PATH=scripts/x", "JUJU_UNIT_NAME=a/0"}, "JUJU_DISPATCH_PATH", "neither"},
		{"no unit", []string{"JUJU_DISPATCH_PATH=hooks/install"}, "JUJU_UNIT_NAME", "is not set"},
		{"bad unit", []string{"JUJU_DISPATCH_PATH=hooks/install", "JUJU_UNIT_NAME=../0"}, "JUJU_UNIT_NAME", "not a unit name"},
		{"bad remote unit", []string{"JUJU_DISPATCH_PATH=hooks/install", "JUJU_UNIT_NAME=a/0", "JUJU_REMOTE_UNIT=a"}, "JUJU_REMOTE_UNIT", "not a unit name"},
		{"action mismatch", []string{"JUJU_DISPATCH_PATH=actions/upgrade", "JUJU_ACTION_NAME=abort", "JUJU_UNIT_NAME=a/0"}, "JUJU_ACTION_NAME", "another action"},
		{"relation without id", []string{"JUJU_DISPATCH_PATH=hooks/peers-relation-changed", "JUJU_UNIT_NAME=a/0", "JUJU_RELATION=peers"}, "JUJU_RELATION_ID", "is not set"},
		{"storage without location", []string{"JUJU_DISPATCH_PATH=hooks/concourse-data-storage-attached", "JUJU_UNIT_NAME=a/0", "JUJU_STORAGE_ID=concourse-data/0"}, "JUJU_STORAGE", "must both be set"},
	}
	for _, tc := range tests {
		_, err := ParseContext(envOf(tc.env...))
		var e *EnvError
		require.ErrorAs(t, err, &e, tc.name)
		assert.Contains(t, e.Variable, tc.variable, tc.name)
		assert.Contains(t, err.Error(), tc.problem, tc.name)
	}
}

func TestCheckActionKey(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"phase", "units.a-0.error", "aborts-at", "x1"} {
		assert.NoError(t, CheckActionKey(ok), ok)
	}
	for _, bad := range []string{"", "Phase", "a_b", "a..b", ".a", "a.", "-a", "a-", "units.a/0"} {
		assert.Error(t, CheckActionKey(bad), bad)
	}
}
