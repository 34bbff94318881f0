package concourse

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFlagTableHoldsConcoursesNames(t *testing.T) {
	t.Parallel()
	// A few flags checked by hand against the cited source.
	cases := []struct {
		role     Role
		env      string
		name     string
		required bool
		choices  []string
	}{
		{RoleWeb, "CONCOURSE_BIND_PORT", "bind-port", false, nil},
		{RoleWeb, "CONCOURSE_TSA_HOST_KEY", "tsa-host-key", true, nil},
		{RoleWeb, "CONCOURSE_POSTGRES_SSLMODE", "postgres-sslmode", false, []string{"disable", "require", "verify-ca", "verify-full"}},
		{RoleWeb, "CONCOURSE_PEER_ADDRESS", "peer-address", false, nil},
		{RoleWorker, "CONCOURSE_WORK_DIR", "work-dir", true, nil},
		{RoleWorker, "CONCOURSE_TSA_WORKER_PRIVATE_KEY", "tsa-worker-private-key", true, nil},
		{RoleWorker, "CONCOURSE_RUNTIME", "runtime", false, []string{"guardian", "containerd", "houdini"}},
		{RoleWorker, "http_proxy", "http-proxy", false, nil},
		{RoleWorker, "CONCOURSE_CONTAINERD_INIT_BIN", "containerd-init-bin", false, nil},
	}
	for _, c := range cases {
		f, ok := FlagByEnv(c.role, c.env)
		require.True(t, ok, "%s %s", c.role, c.env)
		assert.Equal(t, c.name, f.Name)
		assert.Equal(t, c.required, f.Required, c.env)
		assert.Equal(t, c.choices, f.Choices, c.env)
	}
	assert.Equal(t, 362, len(Flags(RoleWeb)))
	assert.Equal(t, 81, len(Flags(RoleWorker)))
	_, ok := FlagByEnv(RoleWeb, "CONCOURSE_WORK_DIR")
	assert.False(t, ok, "web has no work dir")
	assert.Empty(t, Flags("quickstart"))
}

func TestFlagsReturnsACopy(t *testing.T) {
	t.Parallel()
	f := Flags(RoleWeb)
	f[0].Name = "changed"
	assert.NotEqual(t, "changed", Flags(RoleWeb)[0].Name)
}

func TestParseFlagListRefusesBadLines(t *testing.T) {
	t.Parallel()
	_, err := parseFlagList("bind-port\nbind-port\n")
	assert.ErrorContains(t, err, "twice")
	_, err = parseFlagList("bind-port secret\n")
	assert.ErrorContains(t, err, "unknown attribute")
	flags, err := parseFlagList("# comment\n\nhttp-proxy env=http_proxy\nx list choices=a,b required hidden\n")
	require.NoError(t, err)
	assert.Equal(t, []Flag{
		{Name: "http-proxy", Env: "http_proxy"},
		{Name: "x", Env: "CONCOURSE_X", List: true, Required: true, Hidden: true, Choices: []string{"a", "b"}},
	}, flags)
}

func minimalEnv(role Role) map[string]string {
	if role == RoleWeb {
		return map[string]string{"CONCOURSE_TSA_HOST_KEY": "/k"}
	}
	return map[string]string{"CONCOURSE_WORK_DIR": "/w", "CONCOURSE_TSA_WORKER_PRIVATE_KEY": "/k", "CONCOURSE_RUNTIME": "containerd"}
}

func TestCheckEnv(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		role  Role
		set   map[string]string
		unset []string
		want  error // nil, or a typed error with its fields
	}{
		{name: "minimal web", role: RoleWeb},
		{name: "minimal worker", role: RoleWorker},
		{name: "other variables are not Concourse's", role: RoleWeb, set: map[string]string{"PATH": "/bin", "HTTP_PROXY": "http://p:3128"}},
		{name: "typo", role: RoleWeb, set: map[string]string{"CONCOURSE_EXTERNAL_URI": "x"},
			want: &UnknownSettingError{Role: RoleWeb, Key: "CONCOURSE_EXTERNAL_URI"}},
		{name: "worker setting on web", role: RoleWeb, set: map[string]string{"CONCOURSE_WORK_DIR": "/w"},
			want: &UnknownSettingError{Role: RoleWeb, Key: "CONCOURSE_WORK_DIR"}},
		{name: "missing host key", role: RoleWeb, unset: []string{"CONCOURSE_TSA_HOST_KEY"},
			want: &MissingSettingError{Role: RoleWeb, Key: "CONCOURSE_TSA_HOST_KEY"}},
		{name: "empty work dir", role: RoleWorker, set: map[string]string{"CONCOURSE_WORK_DIR": ""},
			want: &MissingSettingError{Role: RoleWorker, Key: "CONCOURSE_WORK_DIR"}},
		{name: "bad choice", role: RoleWeb, set: map[string]string{"CONCOURSE_LOG_LEVEL": "warn"},
			want: &InvalidChoiceError{Role: RoleWeb, Key: "CONCOURSE_LOG_LEVEL", Choices: []string{"debug", "info", "error", "fatal"}}},
		{name: "list of choices", role: RoleWeb, set: map[string]string{"CONCOURSE_CONTAINER_PLACEMENT_STRATEGY": "volume-locality,fewest-build-containers"}},
		{name: "bad item in list", role: RoleWeb, set: map[string]string{"CONCOURSE_CONTAINER_PLACEMENT_STRATEGY": "volume-locality,nearest"},
			want: &InvalidChoiceError{Role: RoleWeb, Key: "CONCOURSE_CONTAINER_PLACEMENT_STRATEGY",
				Choices: []string{"volume-locality", "random", "fewest-build-containers", "limit-active-tasks", "limit-active-containers", "limit-active-volumes"}}},
		{name: "garden setting with containerd", role: RoleWorker, set: map[string]string{"CONCOURSE_GARDEN_NETWORK_POOL": "10.0.0.0/16"},
			want: &RuntimeConflictError{Runtime: "containerd", Key: "CONCOURSE_GARDEN_NETWORK_POOL"}},
		{name: "containerd setting with guardian", role: RoleWorker, set: map[string]string{"CONCOURSE_RUNTIME": "guardian", "CONCOURSE_CONTAINERD_DNS_SERVER": "1.1.1.1"},
			want: &RuntimeConflictError{Runtime: "guardian", Key: "CONCOURSE_CONTAINERD_DNS_SERVER"}},
		{name: "guardian is the default runtime", role: RoleWorker, unset: []string{"CONCOURSE_RUNTIME"}, set: map[string]string{"CONCOURSE_CONTAINERD_MTU": "1400"},
			want: &RuntimeConflictError{Runtime: "guardian", Key: "CONCOURSE_CONTAINERD_MTU"}},
		{name: "houdini refuses both", role: RoleWorker, set: map[string]string{"CONCOURSE_RUNTIME": "houdini", "CONCOURSE_GARDEN_BIN": "/gdn"},
			want: &RuntimeConflictError{Runtime: "houdini", Key: "CONCOURSE_GARDEN_BIN"}},
		{name: "guardian forwards any garden setting", role: RoleWorker, set: map[string]string{"CONCOURSE_RUNTIME": "guardian", "CONCOURSE_GARDEN_DEFAULT_ROOTFS": "/r"}},
		{name: "containerd namespace suffix", role: RoleWorker, set: map[string]string{"CONCOURSE_CONTAINERD_NAMESPACE_SUFFIX": "-1"}},
		{name: "unknown garden setting on web", role: RoleWeb, set: map[string]string{"CONCOURSE_GARDEN_BIN": "/gdn"},
			want: &UnknownSettingError{Role: RoleWeb, Key: "CONCOURSE_GARDEN_BIN"}},
		{name: "hidden flags are accepted", role: RoleWorker, set: map[string]string{"CONCOURSE_VERSION": "7.14.3"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			env := minimalEnv(c.role)
			for k, v := range c.set {
				env[k] = v
			}
			for _, k := range c.unset {
				delete(env, k)
			}
			err := CheckEnv(c.role, env)
			if c.want == nil {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assertContainsError(t, err, c.want)
		})
	}
}

// assertContainsError finds an error equal to want in err's tree.
func assertContainsError(t *testing.T, err, want error) {
	t.Helper()
	var found bool
	var walk func(error)
	walk = func(e error) {
		if e == nil || found {
			return
		}
		if assert.ObjectsAreEqual(want, e) {
			found = true
			return
		}
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
		}
		walk(errors.Unwrap(e))
	}
	walk(err)
	assert.True(t, found, "want %#v in %v", want, err)
}

func TestCheckEnvReportsEveryProblem(t *testing.T) {
	t.Parallel()
	err := CheckEnv(RoleWorker, map[string]string{"CONCOURSE_NAMEE": "x", "CONCOURSE_RUNTIME": "runc"})
	require.Error(t, err)
	for _, want := range []error{
		&UnknownSettingError{Role: RoleWorker, Key: "CONCOURSE_NAMEE"},
		&InvalidChoiceError{Role: RoleWorker, Key: "CONCOURSE_RUNTIME", Choices: []string{"guardian", "containerd", "houdini"}},
		&MissingSettingError{Role: RoleWorker, Key: "CONCOURSE_WORK_DIR"},
		&MissingSettingError{Role: RoleWorker, Key: "CONCOURSE_TSA_WORKER_PRIVATE_KEY"},
	} {
		assertContainsError(t, err, want)
	}
	var unknown *UnknownSettingError
	assert.ErrorAs(t, err, &unknown)
	assert.NotContains(t, err.Error(), "runc", "values are not echoed")
}

func TestCheckEnvUnknownRole(t *testing.T) {
	t.Parallel()
	assert.Error(t, CheckEnv("quickstart", nil))
}
