package concourse

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseExtraEnv(t *testing.T) {
	t.Parallel()
	env, err := ParseExtraEnv(RoleWeb, "# GitHub auth\r\n"+
		"CONCOURSE_GITHUB_CLIENT_ID=abc\r\n"+
		"\n"+
		"  CONCOURSE_GITHUB_CLIENT_SECRET=x=y==  \n"+
		"CONCOURSE_MAIN_TEAM_GITHUB_ORG=\"my org\"\n"+
		"CONCOURSE_CONTAINER_PLACEMENT_STRATEGY=volume-locality,fewest-build-containers\n")
	require.NoError(t, err)
	assert.Equal(t, map[string]string{
		"CONCOURSE_GITHUB_CLIENT_ID":             "abc",
		"CONCOURSE_GITHUB_CLIENT_SECRET":         "x=y==",
		"CONCOURSE_MAIN_TEAM_GITHUB_ORG":         `"my org"`,
		"CONCOURSE_CONTAINER_PLACEMENT_STRATEGY": "volume-locality,fewest-build-containers",
	}, env)

	empty, err := ParseExtraEnv(RoleWorker, "")
	require.NoError(t, err)
	assert.Empty(t, empty)

	worker, err := ParseExtraEnv(RoleWorker, "CONCOURSE_CONTAINERD_DNS_SERVER=1.1.1.1\nCONCOURSE_GARDEN_DNS_SERVER=8.8.8.8\n")
	require.NoError(t, err, "the runtime is checked once the whole environment is known")
	assert.Len(t, worker, 2)
}

func TestParseExtraEnvRefuses(t *testing.T) {
	t.Parallel()
	const secret = "hunter2-very-secret"
	cases := []struct {
		name string
		role Role
		text string
		want error
	}{
		{"no equals sign", RoleWeb, "CONCOURSE_GITHUB_CLIENT_ID " + secret,
			&ExtraEnvError{Role: RoleWeb, Line: 1, Reason: `has no "=" (expected KEY=value)`}},
		{"not Concourse's", RoleWeb, "# ok\nAWS_SECRET_ACCESS_KEY=" + secret,
			&ExtraEnvError{Role: RoleWeb, Line: 2, Reason: "its key does not start with CONCOURSE_"}},
		{"lower case", RoleWeb, "CONCOURSE_github_client_id=" + secret,
			&ExtraEnvError{Role: RoleWeb, Line: 1, Reason: "its key is not CONCOURSE_ followed by upper-case letters, digits and underscores"}},
		{"space before equals", RoleWeb, "CONCOURSE_GITHUB_CLIENT_ID =" + secret,
			&ExtraEnvError{Role: RoleWeb, Line: 1, Reason: "its key is not CONCOURSE_ followed by upper-case letters, digits and underscores"}},
		{"set twice", RoleWeb, "CONCOURSE_GITHUB_CLIENT_ID=a\nCONCOURSE_GITHUB_CLIENT_ID=" + secret,
			&ExtraEnvError{Role: RoleWeb, Line: 2, Key: "CONCOURSE_GITHUB_CLIENT_ID", Reason: "is set twice"}},
		{"control character", RoleWeb, "CONCOURSE_GITHUB_CLIENT_SECRET=" + secret + "\x1b[0m",
			&ExtraEnvError{Role: RoleWeb, Line: 1, Key: "CONCOURSE_GITHUB_CLIENT_SECRET", Reason: "its value contains a control character"}},
		{"typo", RoleWeb, "CONCOURSE_GITHUB_CLIENT_SECRETS=" + secret,
			&UnknownSettingError{Role: RoleWeb, Key: "CONCOURSE_GITHUB_CLIENT_SECRETS"}},
		{"the charm's own", RoleWeb, "CONCOURSE_POSTGRES_PASSWORD=" + secret,
			&ManagedSettingError{Role: RoleWeb, Key: "CONCOURSE_POSTGRES_PASSWORD"}},
		{"the charm's own on the worker", RoleWorker, "CONCOURSE_WORK_DIR=/tmp",
			&ManagedSettingError{Role: RoleWorker, Key: "CONCOURSE_WORK_DIR"}},
		{"a web setting on the worker", RoleWorker, "CONCOURSE_GITHUB_CLIENT_ID=" + secret,
			&UnknownSettingError{Role: RoleWorker, Key: "CONCOURSE_GITHUB_CLIENT_ID"}},
		{"outside the choices", RoleWeb, "CONCOURSE_PASSWORD_CONNECTOR=" + secret,
			&InvalidChoiceError{Role: RoleWeb, Key: "CONCOURSE_PASSWORD_CONNECTOR", Choices: []string{"local", "ldap"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			env, err := ParseExtraEnv(c.role, c.text)
			require.Error(t, err)
			assert.Nil(t, env)
			assertContainsError(t, err, c.want)
			assert.NotContains(t, err.Error(), secret, "values are never echoed")
		})
	}
}

// Every key the charm sets is one Concourse reads for that role.
func TestManagedKeysAreConcourseSettings(t *testing.T) {
	t.Parallel()
	for _, role := range Roles() {
		for _, k := range ManagedKeys(role) {
			_, ok := FlagByEnv(role, k)
			assert.True(t, ok, "%s %s", role, k)
		}
	}
	assert.Nil(t, ManagedKeys("quickstart"))
}

// The rendered environments set only managed keys (and the proxies), so
// the pass-through can never be overridden silently.
func TestRenderedKeysAreManaged(t *testing.T) {
	t.Parallel()
	web := webSettings(t)
	web.Extra = nil
	worker := workerSettings(t)
	worker.Extra = nil
	for role, render := range map[Role]func() (map[string]string, error){RoleWeb: web.Env, RoleWorker: worker.Env} {
		env, err := render()
		require.NoError(t, err)
		for k := range env {
			if k == "HTTP_PROXY" || k == "HTTPS_PROXY" || k == "NO_PROXY" || k == "http_proxy" || k == "https_proxy" || k == "no_proxy" {
				continue
			}
			assert.True(t, isManaged(role, k), "%s renders %s, which the pass-through would not refuse", role, k)
		}
	}
}
