package concourse

import (
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/certtest"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/unitname"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

const (
	secretPassword = "s3cr3t-db-password"
	adminPassword  = "AdminPassw0rd"
)

func webSettings(t *testing.T) WebSettings {
	t.Helper()
	ports, err := PortsFor(1, DefaultWebPort)
	require.NoError(t, err)
	return WebSettings{
		Ports:       ports,
		ExternalURL: "https://ci.example.com/",
		PeerAddress: "10.0.0.11",
		Postgres: Postgres{
			Endpoints: []string{"10.0.0.5:5432", "10.0.0.6:5432"},
			User:      "relation-7", Password: secretPassword, Database: "concourse",
			TLS: true, CACert: certtest.CA(t),
		},
		PostgresCACertFile:       "/var/lib/juju/agents/unit-concourse-1/postgres-ca.pem",
		SessionSigningKeyFile:    "/var/lib/concourse/keys/session_signing_key",
		TSAHostKeyFile:           "/var/lib/concourse/keys/tsa_host_key",
		AuthorizedWorkerKeysFile: "/etc/concourse/concourse-1/authorized_worker_keys",
		AdminUser:                "admin",
		AdminPassword:            adminPassword,
		ClusterName:              "ci",
		LogLevel:                 LogInfo,
		Proxy:                    Proxy{HTTP: "http://user:proxypass@proxy:3128", HTTPS: "http://proxy:3128", NoProxy: "10.0.0.0/8,localhost"},
		Extra:                    map[string]string{"CONCOURSE_GITHUB_CLIENT_ID": "id", "CONCOURSE_GITHUB_CLIENT_SECRET": "gh-secret"},
	}
}

func workerSettings(t *testing.T) WorkerSettings {
	t.Helper()
	ports, err := PortsFor(2, DefaultWebPort)
	require.NoError(t, err)
	return WorkerSettings{
		Name:                 WorkerName("prod", unitname.MustParse("concourse/2")),
		Ports:                ports,
		WorkDir:              "/var/lib/concourse/workers/concourse-2",
		TSAHosts:             []string{"10.0.0.10:2222", "10.0.0.11:2235"},
		TSAPublicKeyFile:     "/var/lib/concourse/keys/tsa_host_key.pub",
		WorkerPrivateKeyFile: "/var/lib/concourse/keys/worker_key",
		Runtime:              RuntimeContainerd,
		BaggageclaimDriver:   DriverOverlay,
		ReleaseDir:           "/var/lib/concourse/releases/7.14.3/concourse",
		Tags:                 []string{"linux", "big"},
		LogLevel:             LogDebug,
		Proxy:                Proxy{HTTP: "http://proxy:3128", NoProxy: "localhost"},
		Extra:                map[string]string{"CONCOURSE_CONTAINERD_DNS_SERVER": "10.0.0.2"},
	}
}

// checkGolden compares env (secrets masked) with testdata/name.golden.
func checkGolden(t *testing.T, name string, env map[string]string) {
	t.Helper()
	var b strings.Builder
	masked := MaskSecrets(env)
	for _, k := range slices.Sorted(maps.Keys(masked)) {
		fmt.Fprintf(&b, "%s=%s\n", k, masked[k])
	}
	got := b.String()
	assert.NotContains(t, got, secretPassword)
	assert.NotContains(t, got, adminPassword)
	assert.NotContains(t, got, "proxypass")
	path := filepath.Join("testdata", name+".golden")
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./concourse -run Golden -update to create it")
	assert.Equal(t, string(want), got)
}

func TestWebEnvGolden(t *testing.T) {
	t.Parallel()
	env, err := webSettings(t).Env()
	require.NoError(t, err)
	require.NoError(t, CheckEnv(RoleWeb, env))
	assert.Equal(t, "admin:"+adminPassword, env["CONCOURSE_ADD_LOCAL_USER"])
	assert.Equal(t, secretPassword, env["CONCOURSE_POSTGRES_PASSWORD"])
	checkGolden(t, "web", env)
}

func TestWorkerEnvGolden(t *testing.T) {
	t.Parallel()
	env, err := workerSettings(t).Env()
	require.NoError(t, err)
	require.NoError(t, CheckEnv(RoleWorker, env))
	checkGolden(t, "worker-containerd", env)

	h := workerSettings(t)
	h.Runtime, h.BaggageclaimDriver, h.ReleaseDir, h.Tags = RuntimeHoudini, DriverNaive, "", nil
	h.Proxy, h.Extra, h.TSAHosts = Proxy{}, nil, []string{"10.0.0.10:2222"}
	env, err = h.Env()
	require.NoError(t, err)
	checkGolden(t, "worker-houdini", env)
}

func TestWebEnvPostgresTLS(t *testing.T) {
	t.Parallel()
	cases := []struct {
		tls    bool
		ca     bool
		mode   string
		caFile bool
	}{
		{false, false, "disable", false},
		{true, false, "require", false},
		{true, true, "verify-ca", true},
	}
	for _, c := range cases {
		s := webSettings(t)
		s.Postgres.TLS = c.tls
		if !c.ca {
			s.Postgres.CACert = ""
		}
		env, err := s.Env()
		require.NoError(t, err)
		assert.Equal(t, c.mode, env["CONCOURSE_POSTGRES_SSLMODE"])
		_, has := env["CONCOURSE_POSTGRES_CA_CERT"]
		assert.Equal(t, c.caFile, has)
	}
}

func TestWorkerContainerdAtTheDefaultPlace(t *testing.T) {
	t.Parallel()
	s := workerSettings(t)
	s.ReleaseDir = ReleaseDefaultDir
	env, err := s.Env()
	require.NoError(t, err)
	assert.NotContains(t, env, "CONCOURSE_CONTAINERD_INIT_BIN")
	assert.NotContains(t, env, "CONCOURSE_CONTAINERD_CNI_PLUGINS_DIR")
}

func TestSettingsRefuseBadValues(t *testing.T) {
	t.Parallel()
	web := func(change func(*WebSettings)) func(t *testing.T) error {
		return func(t *testing.T) error {
			s := webSettings(t)
			change(&s)
			_, err := s.Env()
			return err
		}
	}
	worker := func(change func(*WorkerSettings)) func(t *testing.T) error {
		return func(t *testing.T) error {
			s := workerSettings(t)
			change(&s)
			_, err := s.Env()
			return err
		}
	}
	cases := []struct {
		name   string
		render func(t *testing.T) error
		want   error
	}{
		{"no external URL", web(func(s *WebSettings) { s.ExternalURL = "" }),
			&MissingSettingError{Role: RoleWeb, Key: "CONCOURSE_EXTERNAL_URL"}},
		{"relative external URL", web(func(s *WebSettings) { s.ExternalURL = "ci.example.com" }),
			&InvalidSettingError{Role: RoleWeb, Key: "CONCOURSE_EXTERNAL_URL", Reason: "is not an absolute http or https URL without user, query or fragment"}},
		{"no database", web(func(s *WebSettings) { s.Postgres = Postgres{} }),
			&PostgresDataError{Field: "endpoints", Reason: "no endpoint given"}},
		{"CA without a file", web(func(s *WebSettings) { s.PostgresCACertFile = "" }),
			&MissingSettingError{Role: RoleWeb, Key: "CONCOURSE_POSTGRES_CA_CERT"}},
		{"relative key path", web(func(s *WebSettings) { s.TSAHostKeyFile = "keys/tsa_host_key" }),
			&InvalidSettingError{Role: RoleWeb, Key: "CONCOURSE_TSA_HOST_KEY", Reason: "is not a clean absolute path"}},
		{"no admin password", web(func(s *WebSettings) { s.AdminPassword = "" }),
			&MissingSettingError{Role: RoleWeb, Key: "CONCOURSE_ADD_LOCAL_USER"}},
		{"comma in admin password", web(func(s *WebSettings) { s.AdminPassword = "a,b" }),
			&InvalidSettingError{Role: RoleWeb, Key: "CONCOURSE_ADD_LOCAL_USER", Reason: `has a password containing "," or ":"`}},
		{"odd admin name", web(func(s *WebSettings) { s.AdminUser = "ad min" }),
			&InvalidSettingError{Role: RoleWeb, Key: "CONCOURSE_MAIN_TEAM_LOCAL_USER", Reason: "is not a user name (letters, digits, . _ @ -)"}},
		{"newline in peer address", web(func(s *WebSettings) { s.PeerAddress = "10.0.0.1\nCONCOURSE_X=1" }),
			&InvalidSettingError{Role: RoleWeb, Key: "CONCOURSE_PEER_ADDRESS", Reason: "contains a control character"}},
		{"warn is no Concourse level", web(func(s *WebSettings) { s.LogLevel = "warn" }),
			&InvalidValueError{Field: "CONCOURSE_LOG_LEVEL", Value: "warn", Choices: []string{"debug", "info", "error", "fatal"}}},
		{"pass-through overrides the database", web(func(s *WebSettings) { s.Extra = map[string]string{"CONCOURSE_POSTGRES_HOST": "evil"} }),
			&ManagedSettingError{Role: RoleWeb, Key: "CONCOURSE_POSTGRES_HOST"}},
		{"pass-through with an unknown key", web(func(s *WebSettings) { s.Extra = map[string]string{"CONCOURSE_GITHUB_CLIENT": "x"} }),
			&UnknownSettingError{Role: RoleWeb, Key: "CONCOURSE_GITHUB_CLIENT"}},
		{"no worker name", worker(func(s *WorkerSettings) { s.Name = "" }),
			&MissingSettingError{Role: RoleWorker, Key: "CONCOURSE_NAME"}},
		{"slash in worker name", worker(func(s *WorkerSettings) { s.Name = "a/b" }),
			&InvalidSettingError{Role: RoleWorker, Key: "CONCOURSE_NAME", Reason: "is not a worker name (letters, digits, . _ -)"}},
		{"no TSA", worker(func(s *WorkerSettings) { s.TSAHosts = nil }),
			&MissingSettingError{Role: RoleWorker, Key: "CONCOURSE_TSA_HOST"}},
		{"TSA without port", worker(func(s *WorkerSettings) { s.TSAHosts = []string{"10.0.0.10"} }),
			&InvalidSettingError{Role: RoleWorker, Key: "CONCOURSE_TSA_HOST", Reason: `has "10.0.0.10", which is not host:port`}},
		{"no work dir", worker(func(s *WorkerSettings) { s.WorkDir = "" }),
			&MissingSettingError{Role: RoleWorker, Key: "CONCOURSE_WORK_DIR"}},
		{"unknown runtime", worker(func(s *WorkerSettings) { s.Runtime = "runc" }),
			&InvalidValueError{Field: "CONCOURSE_RUNTIME", Value: "runc", Choices: []string{"containerd", "guardian", "houdini"}}},
		{"containerd without a release", worker(func(s *WorkerSettings) { s.ReleaseDir = "" }),
			&MissingSettingError{Role: RoleWorker, Key: "CONCOURSE_CONTAINERD_INIT_BIN"}},
		{"bad tag", worker(func(s *WorkerSettings) { s.Tags = []string{"a,b"} }),
			&InvalidSettingError{Role: RoleWorker, Key: "CONCOURSE_TAG", Reason: `has "a,b", which is not a tag (letters, digits, . _ / -)`}},
		{"garden setting with containerd", worker(func(s *WorkerSettings) { s.Extra = map[string]string{"CONCOURSE_GARDEN_NETWORK_POOL": "10.1.0.0/16"} }),
			&RuntimeConflictError{Runtime: "containerd", Key: "CONCOURSE_GARDEN_NETWORK_POOL"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			err := c.render(t)
			require.Error(t, err)
			assertContainsError(t, err, c.want)
			assert.NotContains(t, err.Error(), secretPassword)
			assert.NotContains(t, err.Error(), adminPassword)
		})
	}
}

func TestWorkerName(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "prod-concourse-3", WorkerName("prod", unitname.MustParse("concourse/3")))
	assert.Equal(t, "concourse-3", WorkerName("", unitname.MustParse("concourse/3")))
}

func TestProxyFromJuju(t *testing.T) {
	t.Parallel()
	env := map[string]string{"JUJU_CHARM_HTTP_PROXY": "http://p:1", "JUJU_CHARM_HTTPS_PROXY": "http://p:2", "JUJU_CHARM_NO_PROXY": "localhost"}
	assert.Equal(t, Proxy{HTTP: "http://p:1", HTTPS: "http://p:2", NoProxy: "localhost"}, ProxyFromJuju(func(k string) string { return env[k] }))
}

func TestParseValues(t *testing.T) {
	t.Parallel()
	r, err := ParseRuntime("worker-runtime", "guardian")
	require.NoError(t, err)
	assert.Equal(t, RuntimeGuardian, r)
	_, err = ParseRuntime("worker-runtime", "docker")
	var bad *InvalidValueError
	require.ErrorAs(t, err, &bad)
	assert.Equal(t, "worker-runtime", bad.Field)
	d, err := ParseBaggageclaimDriver("baggageclaim-driver", "naive")
	require.NoError(t, err)
	assert.Equal(t, DriverNaive, d)
	l, err := ParseLogLevel("log-level", "error")
	require.NoError(t, err)
	assert.Equal(t, LogError, l)
}
