package charm_test

import (
	"context"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/charm"
	"github.com/concourse-ci-machine/concourse-ci-machine/charm/charmtest"
	"github.com/concourse-ci-machine/concourse-ci-machine/concourse"
	"github.com/concourse-ci-machine/concourse-ci-machine/fsm"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/certtest"
	"github.com/concourse-ci-machine/concourse-ci-machine/relation"
	"github.com/concourse-ci-machine/concourse-ci-machine/relation/jujutest"
	"github.com/concourse-ci-machine/concourse-ci-machine/storage/releasetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newWorld(t *testing.T, opts charmtest.Options) *charmtest.World {
	t.Helper()
	if opts.Releases == nil {
		opts.Releases = []string{"7.14.3"}
	}
	return charmtest.NewT(t, opts)
}

func settle(t *testing.T, w *charmtest.World) {
	t.Helper()
	require.NoError(t, w.Settle(context.Background(), 10000))
	assert.Empty(t, w.Violations())
}

func converge(t *testing.T, w *charmtest.World) {
	t.Helper()
	require.NoError(t, w.Converge(context.Background(), 5), "%s", w.Model)
	assert.Empty(t, w.Violations())
}

// envOf is the environment the charm installed for a role on unit.
func envOf(t *testing.T, w *charmtest.World, unit string, role charm.Role) map[string]string {
	t.Helper()
	u, ok := w.Machine(unit).Installed()[role]
	require.True(t, ok, "%s has no %s unit", unit, role)
	return maps.Clone(u.Env)
}

func status(w *charmtest.World, unit string) string { return w.Model.Status(unit).String() }

// Without PostgreSQL, web does not start and says how to relate one; the
// workers run. Once related and answered, web starts.
func TestWebWaitsForPostgreSQL(t *testing.T) {
	t.Parallel()
	w := newWorld(t, charmtest.Options{Units: 2, Postgres: charmtest.PostgresAbsent})
	settle(t, w)
	w.Model.Tick(5 * time.Minute)
	settle(t, w)
	assert.Equal(t, "blocked: waiting for PostgreSQL: juju integrate concourse postgresql", status(w, "concourse/0"))
	assert.NotContains(t, w.Machine("concourse/0").Running(), charm.RoleWeb)
	assert.Equal(t, "active: worker 7.14.3", status(w, "concourse/1"))
	assert.Equal(t, "7.14.3", w.Machine("concourse/1").Running()[charm.RoleWorker].String())

	id := w.Model.RelateRemote("concourse", "postgresql", "postgresql", "database")
	settle(t, w)
	assert.Equal(t, map[string]string{"database": "concourse", "requested-secrets": `["username","password","tls","tls-ca","uris"]`}, w.Model.RemoteAppBag(id, "concourse"))
	assert.Equal(t, "waiting: Waiting for PostgreSQL (postgresql) to send endpoints, username, password", status(w, "concourse/0"))
	w.Model.SetRemoteData(id, charmtest.PostgresAnswer())
	converge(t, w)
	assert.Equal(t, "active: web 7.14.3", status(w, "concourse/0"))
	env := envOf(t, w, "concourse/0", charm.RoleWeb)
	assert.Equal(t, "10.9.0.5", env["CONCOURSE_POSTGRES_HOST"])
	assert.Equal(t, "pg-s3cret", env["CONCOURSE_POSTGRES_PASSWORD"])
}

// The provider answers late, then garbage, then well, then garbage again,
// then goes away: web runs only on usable data, stops cleanly otherwise,
// and the status says why, never with the password.
func TestPostgresLateGarbageAndGone(t *testing.T) {
	t.Parallel()
	w := newWorld(t, charmtest.Options{Units: 2, Postgres: charmtest.PostgresSilent})
	id := w.PostgresRelation("concourse")
	settle(t, w)
	assert.Equal(t, "waiting: Waiting for PostgreSQL (postgresql) to send endpoints, username, password", status(w, "concourse/0"))
	bag := w.Model.RemoteAppBag(id, "concourse")
	assert.Equal(t, "concourse", bag["database"], "the leader asks for its database")
	assert.NotContains(t, bag, "password", "and writes nothing secret")

	garbage := charmtest.PostgresAnswer()
	garbage["endpoints"] = "10.9.0.5:postgres"
	w.Model.SetRemoteData(id, garbage)
	settle(t, w)
	st := w.Model.Status("concourse/0")
	assert.Equal(t, relation.Blocked, st.State)
	assert.Contains(t, st.Message, "Web stopped: PostgreSQL (postgresql) sent unusable endpoints: ")
	assert.NotContains(t, w.Machine("concourse/0").Running(), charm.RoleWeb)

	w.Model.AddSecret("secret:pg-user", map[string]string{"username": "relation-3", "password": "from-a-secret"})
	w.Model.SetRemoteData(id, map[string]string{"endpoints": "10.9.0.7:5433", "secret-user": "secret:pg-user", "tls": "True"})
	converge(t, w)
	env := envOf(t, w, "concourse/0", charm.RoleWeb)
	assert.Equal(t, map[string]string{"host": "10.9.0.7", "port": "5433", "user": "relation-3", "password": "from-a-secret", "sslmode": "require", "database": "concourse"},
		map[string]string{"host": env["CONCOURSE_POSTGRES_HOST"], "port": env["CONCOURSE_POSTGRES_PORT"], "user": env["CONCOURSE_POSTGRES_USER"],
			"password": env["CONCOURSE_POSTGRES_PASSWORD"], "sslmode": env["CONCOURSE_POSTGRES_SSLMODE"], "database": env["CONCOURSE_POSTGRES_DATABASE"]})

	w.Model.SetRemoteData(id, map[string]string{"endpoints": "10.9.0.7:5433", "username": "relation-3", "password": "pw\x01"})
	settle(t, w)
	st = w.Model.Status("concourse/0")
	assert.Equal(t, "blocked", string(st.State))
	assert.Contains(t, st.Message, "sent unusable password: contains a control character")
	assert.NotContains(t, w.Machine("concourse/0").Running(), charm.RoleWeb, "web stops on data it cannot use")
	assert.Contains(t, w.Machine("concourse/0").Journal, "stop concourse-web-concourse-0.service")
	assert.Equal(t, "active: worker 7.14.3", status(w, "concourse/1"), "workers keep running")

	w.Model.SetRemoteData(id, charmtest.PostgresAnswer())
	converge(t, w)
	w.Model.Unrelate(id)
	settle(t, w)
	assert.Equal(t, "blocked: waiting for PostgreSQL: juju integrate concourse postgresql", status(w, "concourse/0"))
	assert.NotContains(t, w.Machine("concourse/0").Running(), charm.RoleWeb)
	for _, u := range w.Model.Units("concourse") {
		assert.NotContains(t, status(w, u), "s3cret")
		assert.NotContains(t, status(w, u), "from-a-secret")
	}
}

// Five units start at once on one volume: one generates the keys, the
// others reuse them, every unit publishes the same worker key, and later
// hooks change nothing in the key directory.
func TestFiveRacingUnitsGenerateOneKeySet(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t, charmtest.Options{Units: 5})
	units := w.Model.Units("concourse")
	for round := 0; round < 3; round++ { // storage-attached, install, relation-created: all at once
		var hooks []*jujutest.Hook
		for _, u := range units {
			hooks = append(hooks, w.Begin(u))
		}
		var wg sync.WaitGroup
		for _, h := range hooks {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w.Run(ctx, h)
			}()
		}
		wg.Wait()
		for _, h := range hooks {
			require.NoError(t, w.Commit(h), h.Event.String())
		}
	}
	converge(t, w)
	generated := 0
	for _, u := range units {
		for _, line := range w.Model.Logs(u) {
			if strings.Contains(line, "generated the cluster's keys") {
				generated++
			}
		}
	}
	assert.Equal(t, 1, generated, "one unit generated the keys")
	keys := filepath.Join(w.Dir, "shared-volume", "keys")
	workerKey, err := os.ReadFile(filepath.Join(keys, concourse.WorkerPublicKeyName))
	require.NoError(t, err)
	for _, u := range units[1:] {
		assert.Equal(t, strings.TrimSpace(string(workerKey)), w.Model.UnitBag(u)[relation.KeyUnitWorkerKey], u)
		env := envOf(t, w, u, charm.RoleWorker)
		assert.Equal(t, filepath.Join(keys, concourse.WorkerKeyName), env["CONCOURSE_TSA_WORKER_PRIVATE_KEY"])
	}
	before := keyDirState(t, keys)
	w.Model.Tick(5 * time.Minute)
	settle(t, w)
	assert.Equal(t, before, keyDirState(t, keys), "a second run changes nothing")
	for entry, mode := range before {
		name, _, _ := strings.Cut(entry, "@")
		switch {
		case strings.HasSuffix(name, ".pub"):
			assert.Equal(t, os.FileMode(0o644), mode.Perm(), name)
		case name == ".":
			assert.Equal(t, os.FileMode(0o700), mode.Perm())
		default:
			assert.Equal(t, os.FileMode(0o600), mode.Perm(), name)
		}
	}
}

// keyDirState is every entry's mode and modification time.
func keyDirState(t *testing.T, dir string) map[string]os.FileMode {
	t.Helper()
	state := map[string]os.FileMode{}
	st, err := os.Stat(dir)
	require.NoError(t, err)
	state["."] = st.Mode()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		info, err := e.Info()
		require.NoError(t, err)
		state[e.Name()+"@"+info.ModTime().String()] = info.Mode()
	}
	return state
}

// Units on their own volumes have their own worker keys: web authorizes
// every one from the peer relation, restarts when a new one arrives, and
// not when nothing changed.
func TestWebAuthorizesEveryWorkerKeyAndRestartsOnlyOnChange(t *testing.T) {
	t.Parallel()
	w := newWorld(t, charmtest.Options{Units: 3, Apart: []string{"concourse/1", "concourse/2", "concourse/3"}})
	converge(t, w)
	authorized := func() []string {
		env := envOf(t, w, "concourse/0", charm.RoleWeb)
		data, err := os.ReadFile(env["CONCOURSE_TSA_AUTHORIZED_KEYS"])
		require.NoError(t, err)
		return strings.Split(strings.TrimSpace(string(data)), "\n")
	}
	keys := authorized()
	assert.Len(t, keys, 3, "the shared volume's key and the two units' own")
	for _, u := range []string{"concourse/1", "concourse/2"} {
		assert.Contains(t, keys, w.Model.UnitBag(u)[relation.KeyUnitWorkerKey], u)
	}
	restarts := func() int { return webRestarts(w, "concourse/0") }
	before := restarts()
	w.Model.Tick(5 * time.Minute)
	converge(t, w)
	assert.Equal(t, before, restarts(), "nothing changed, nothing restarts")

	_, err := w.AddUnit()
	require.NoError(t, err)
	converge(t, w)
	assert.Len(t, authorized(), 4)
	assert.Equal(t, before+1, restarts(), "one restart for the new key")
}

// A web application and a workers-only one pair up over concourse_tsa.
func TestWebAndWorkerApplicationsPairOverTSA(t *testing.T) {
	t.Parallel()
	w := newWorld(t, charmtest.Options{App: "web", Units: 1, Config: map[string]any{"mode": "web"}})
	require.NoError(t, w.Deploy(charmtest.Options{App: "worker", Units: 2, Config: map[string]any{"mode": "worker"}, Postgres: charmtest.PostgresAbsent}))
	settle(t, w)
	assert.Equal(t, "blocked: waiting for web: juju integrate worker:web-tsa <web application>:tsa", status(w, "worker/0"))
	assert.Empty(t, w.Machine("worker/0").Running())
	assert.Equal(t, []string{"8080/tcp"}, w.Model.Ports("web/0"))

	id := w.Model.Relate("web", "tsa", "worker", "web-tsa")
	converge(t, w)
	offer, err := relation.ParseTSAOffer("web", w.Model.RemoteAppBag(id, "web"))
	require.NoError(t, err)
	assert.Equal(t, []string{"10.1.1.10:2222"}, offer.Hosts)
	webKeys := filepath.Join(w.Dir, "shared-volume", "keys")
	tsaKey, err := os.ReadFile(filepath.Join(webKeys, concourse.TSAHostPublicKeyName))
	require.NoError(t, err)
	assert.Equal(t, []string{strings.TrimSpace(string(tsaKey))}, offer.PublicKeys)
	assert.Equal(t, []string{"2222/tcp", "8080/tcp"}, w.Model.Ports("web/0"), "the TSA opens for workers of other applications")

	webEnv := envOf(t, w, "web/0", charm.RoleWeb)
	authorized, err := os.ReadFile(webEnv["CONCOURSE_TSA_AUTHORIZED_KEYS"])
	require.NoError(t, err)
	workerKey, err := os.ReadFile(filepath.Join(w.Dir, "shared-volume-worker", "keys", concourse.WorkerPublicKeyName))
	require.NoError(t, err)
	assert.Contains(t, string(authorized), string(workerKey), "web authorizes the other application's workers")
	for _, u := range []string{"worker/0", "worker/1"} {
		assert.Equal(t, "active: worker 7.14.3", status(w, u))
		env := envOf(t, w, u, charm.RoleWorker)
		assert.Equal(t, "10.1.1.10:2222", env["CONCOURSE_TSA_HOST"])
		known, err := os.ReadFile(env["CONCOURSE_TSA_PUBLIC_KEY"])
		require.NoError(t, err)
		assert.Equal(t, string(tsaKey), string(known))
	}

	w.Model.Unrelate(id)
	settle(t, w)
	assert.Equal(t, "blocked: waiting for web: juju integrate worker:web-tsa <web application>:tsa", status(w, "worker/0"))
	webEnv = envOf(t, w, "web/0", charm.RoleWeb)
	authorized, err = os.ReadFile(webEnv["CONCOURSE_TSA_AUTHORIZED_KEYS"])
	require.NoError(t, err)
	assert.NotContains(t, string(authorized), string(workerKey), "the workers of a removed relation lose their authorization")
}

// fsVolume reports the worker directory on another filesystem.
type fsVolume struct {
	charm.Volume
	fs charm.Filesystem
}

func (v fsVolume) WorkerFilesystem(string) (charm.Filesystem, error) { return v.fs, nil }

// A worker directory on NFS with a layering driver is blocked with the
// fix; with naive the worker runs.
func TestWorkerDirOnNetworkFilesystem(t *testing.T) {
	t.Parallel()
	w := newWorld(t, charmtest.Options{Units: 2, WrapVolume: func(v charm.Volume) charm.Volume {
		return fsVolume{Volume: v, fs: charm.Filesystem{Type: "nfs", Network: true}}
	}})
	settle(t, w)
	assert.Equal(t, "blocked: Worker dir on nfs: juju config concourse baggageclaim-driver=naive, or give workers a local volume", status(w, "concourse/1"))
	assert.Empty(t, w.Machine("concourse/1").Running())
	w.Model.SetConfig("concourse", map[string]any{"baggageclaim-driver": "naive"})
	converge(t, w)
	assert.Equal(t, "naive", envOf(t, w, "concourse/1", charm.RoleWorker)["CONCOURSE_BAGGAGECLAIM_DRIVER"])
}

// The operator's release-space figure replaces the estimate of the space an
// install needs: more than the volume has refuses the release before any
// download, with the figure in the status; cleared, the estimate (the
// download's size here) lets the install go ahead.
func TestReleaseSpaceConfigReachesTheInstall(t *testing.T) {
	t.Parallel()
	w := newWorld(t, charmtest.Options{Units: 1, Config: map[string]any{"release-space": "900TiB"}})
	settle(t, w)
	assert.Equal(t, 0, w.Downloads("7.14.3"), "refused before the download")
	assert.True(t, strings.HasPrefix(status(w, "concourse/0"), "blocked: release-space=900.0 TiB but "), status(w, "concourse/0"))
	assert.Empty(t, w.Machine("concourse/0").Running())

	w.Model.SetConfig("concourse", map[string]any{"release-space": ""})
	converge(t, w)
	assert.Equal(t, 1, w.Downloads("7.14.3"))
	assert.NotEmpty(t, w.Machine("concourse/0").Running())
}

// Juju's model proxy settings reach the release download and both
// services.
func TestProxiesReachTheDownloadAndTheServices(t *testing.T) {
	t.Parallel()
	var proxied atomic.Int64
	var w *charmtest.World
	proxy := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		proxied.Add(1)
		target, _ := url.Parse(w.Server.URL())
		httputil.NewSingleHostReverseProxy(target).ServeHTTP(rw, r)
	}))
	t.Cleanup(proxy.Close)
	w = newWorld(t, charmtest.Options{Units: 2,
		Config: map[string]any{"release-url": "http://releases.example" + releasetest.DownloadPrefix + "/v{version}/concourse-{version}-linux-amd64.tgz"},
		Environ: map[string]string{
			"JUJU_CHARM_HTTP_PROXY":  proxy.URL,
			"JUJU_CHARM_HTTPS_PROXY": "http://user:pw@proxy.example:3128",
			"JUJU_CHARM_NO_PROXY":    "10.0.0.0/8,localhost",
		}})
	converge(t, w)
	assert.Equal(t, 1, w.Downloads("7.14.3"))
	assert.Positive(t, proxied.Load(), "the download went through the proxy")
	web := envOf(t, w, "concourse/0", charm.RoleWeb)
	assert.Equal(t, map[string]string{"HTTP_PROXY": proxy.URL, "HTTPS_PROXY": "http://user:pw@proxy.example:3128", "NO_PROXY": "10.0.0.0/8,localhost"},
		map[string]string{"HTTP_PROXY": web["HTTP_PROXY"], "HTTPS_PROXY": web["HTTPS_PROXY"], "NO_PROXY": web["NO_PROXY"]})
	worker := envOf(t, w, "concourse/1", charm.RoleWorker)
	assert.Equal(t, proxy.URL, worker["http_proxy"])
	assert.Equal(t, "10.0.0.0/8,localhost", worker["no_proxy"])
}

// Every unit of mode all runs web and a worker on its own ports; workers
// register with every web unit; web units know their peers' address.
func TestModeAllWiresEveryUnit(t *testing.T) {
	t.Parallel()
	w := newWorld(t, charmtest.Options{Units: 2, Config: map[string]any{"mode": "all", "cluster-name": "ci", "worker-tags": "gpu"}})
	converge(t, w)
	for i, u := range []string{"concourse/0", "concourse/1"} {
		web := envOf(t, w, u, charm.RoleWeb)
		ports, err := concourse.PortsFor(i, 8080)
		require.NoError(t, err)
		assert.Equal(t, ports.Web, atoi(t, web["CONCOURSE_BIND_PORT"]))
		addr := w.Model.Unit(u).Address
		assert.Equal(t, addr, web["CONCOURSE_PEER_ADDRESS"])
		assert.Equal(t, "http://"+addr+":"+web["CONCOURSE_BIND_PORT"], web["CONCOURSE_EXTERNAL_URL"])
		assert.Equal(t, "ci", web["CONCOURSE_CLUSTER_NAME"])
		worker := envOf(t, w, u, charm.RoleWorker)
		assert.Equal(t, "10.1.1.10:2222,10.1.1.11:2235", worker["CONCOURSE_TSA_HOST"])
		assert.Equal(t, "gpu", worker["CONCOURSE_TAG"])
		assert.Equal(t, "test-concourse-"+string(rune('0'+i)), worker["CONCOURSE_NAME"])
		assert.Equal(t, []string{web["CONCOURSE_BIND_PORT"] + "/tcp"}, w.Model.Ports(u))
	}
	assert.Empty(t, concoursePortsShared(t), "two units on one machine never share a port")
}

func concoursePortsShared(t *testing.T) []int {
	t.Helper()
	a, err := concourse.PortsFor(0, 8080)
	require.NoError(t, err)
	b, err := concourse.PortsFor(1, 8080)
	require.NoError(t, err)
	return a.Conflicts(b)
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n := 0
	for _, c := range s {
		require.True(t, c >= '0' && c <= '9', s)
		n = n*10 + int(c-'0')
	}
	return n
}

// The admin password is made once, before web first starts, kept 0600 on
// the volume, and is what get-admin-password shows and web is given.
func TestAdminPasswordMadeOnceAndShown(t *testing.T) {
	t.Parallel()
	w := newWorld(t, charmtest.Options{Units: 2})
	converge(t, w)
	path := filepath.Join(w.Dir, "shared-volume", "keys", "admin-password")
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	a := w.Model.RunAction("concourse/0", fsm.ActionGetAdminPassword, nil)
	settle(t, w)
	require.False(t, a.Failed, a.Message)
	env := envOf(t, w, "concourse/0", charm.RoleWeb)
	assert.Equal(t, "admin:"+a.Results["password"], env["CONCOURSE_ADD_LOCAL_USER"])
	assert.Len(t, a.Results["password"], 32)

	w.Model.SetLeader("concourse/1")
	converge(t, w)
	b := w.Model.RunAction("concourse/1", fsm.ActionGetAdminPassword, nil)
	settle(t, w)
	require.False(t, b.Failed, b.Message)
	assert.Equal(t, a.Results["password"], b.Results["password"], "the new web unit keeps the password")
}

// Files the charm writes for the services: environment files are the
// services adapter's (mode 0600); the key lists and CA are public.
func TestAuxiliaryFilesAndTheirModes(t *testing.T) {
	t.Parallel()
	w := newWorld(t, charmtest.Options{Units: 2, Postgres: charmtest.PostgresSilent})
	answer := charmtest.PostgresAnswer()
	answer["tls"], answer["tls-ca"] = "True", certtest.CA(t)
	w.Model.SetRemoteData(w.PostgresRelation("concourse"), answer)
	converge(t, w)
	web := envOf(t, w, "concourse/0", charm.RoleWeb)
	assert.Equal(t, "verify-ca", web["CONCOURSE_POSTGRES_SSLMODE"])
	for _, path := range []string{web["CONCOURSE_POSTGRES_CA_CERT"], web["CONCOURSE_TSA_AUTHORIZED_KEYS"], envOf(t, w, "concourse/1", charm.RoleWorker)["CONCOURSE_TSA_PUBLIC_KEY"]} {
		st, err := os.Stat(path)
		require.NoError(t, err, path)
		assert.Equal(t, os.FileMode(0o644), st.Mode().Perm(), path)
	}
	ca, err := os.ReadFile(web["CONCOURSE_POSTGRES_CA_CERT"])
	require.NoError(t, err)
	assert.Contains(t, string(ca), "BEGIN CERTIFICATE")
	u := w.Machine("concourse/0").Installed()[charm.RoleWeb]
	assert.Len(t, u.Env[charm.FilesDigestVariable], 64, "the environment changes with the files it names")
	assert.True(t, slices.ContainsFunc(strings.Split(string(u.File), "\n"), func(l string) bool { return l == "EnvironmentFile="+u.EnvPath }))
	before := u.Env[charm.FilesDigestVariable]
	answer["tls-ca"] = certtest.CA(t)
	w.Model.SetRemoteData(w.PostgresRelation("concourse"), answer)
	converge(t, w)
	assert.NotEqual(t, before, envOf(t, w, "concourse/0", charm.RoleWeb)[charm.FilesDigestVariable], "a new CA, a new environment")
}

// In mode auto web follows leadership: the new leader's TSA replaces the
// old one's in every worker's settings, and the old leader becomes a
// worker that registers with it.
func TestLeadershipMovesTheTSA(t *testing.T) {
	t.Parallel()
	w := newWorld(t, charmtest.Options{Units: 3})
	converge(t, w)
	assert.Equal(t, "10.1.1.10:2222", envOf(t, w, "concourse/2", charm.RoleWorker)["CONCOURSE_TSA_HOST"])
	w.Model.SetLeader("concourse/1")
	converge(t, w)
	assert.Equal(t, "active: web 7.14.3", status(w, "concourse/1"))
	for _, u := range []string{"concourse/0", "concourse/2"} {
		assert.Equal(t, "active: worker 7.14.3", status(w, u))
		assert.Equal(t, "10.1.1.11:2235", envOf(t, w, u, charm.RoleWorker)["CONCOURSE_TSA_HOST"], u)
	}
	assert.NotContains(t, w.Machine("concourse/0").Running(), charm.RoleWeb)
	offer, err := relation.ParseTSAOffer("concourse", w.Model.AppBag("concourse"))
	require.NoError(t, err)
	assert.Equal(t, []string{"10.1.1.11:2235"}, offer.Hosts)
}
