package charm_test

import (
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/concourse-ci-machine/concourse-ci-machine/charm"
	"github.com/concourse-ci-machine/concourse-ci-machine/charm/charmtest"
	"github.com/concourse-ci-machine/concourse-ci-machine/concourse"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// The unit files and environments the charm installs, per mode, secrets
// masked: testdata/mode-<mode>.golden. Rewrite them with
// go test ./charm -run Golden -update, and read the diff.
func TestGoldenUnitsPerMode(t *testing.T) {
	t.Parallel()
	modes := map[string]func(t *testing.T) *charmtest.World{
		"auto": func(t *testing.T) *charmtest.World {
			return newWorld(t, charmtest.Options{Units: 2})
		},
		"all": func(t *testing.T) *charmtest.World {
			return newWorld(t, charmtest.Options{Units: 1, Config: map[string]any{"mode": "all", "cluster-name": "ci", "worker-tags": "gpu,large",
				"external-url": "https://ci.example.com"},
				Environ: map[string]string{"JUJU_CHARM_HTTP_PROXY": "http://proxy.example:3128", "JUJU_CHARM_HTTPS_PROXY": "http://user:pw@proxy.example:3128", "JUJU_CHARM_NO_PROXY": "10.0.0.0/8"}})
		},
		"web": func(t *testing.T) *charmtest.World {
			w := newWorld(t, charmtest.Options{App: "web", Units: 1, Config: map[string]any{"mode": "web", "log-level": "debug",
				"web-environment": "CONCOURSE_GITHUB_CLIENT_ID=ci\nCONCOURSE_GITHUB_CLIENT_SECRET=hunter2\n"}})
			require.NoError(t, w.Deploy(charmtest.Options{App: "worker", Units: 1, Config: map[string]any{"mode": "worker"}, Postgres: charmtest.PostgresAbsent}))
			w.Model.Relate("web", "tsa", "worker", "web-tsa")
			return w
		},
		"worker": func(t *testing.T) *charmtest.World {
			w := newWorld(t, charmtest.Options{App: "web", Units: 1, Config: map[string]any{"mode": "web"}})
			require.NoError(t, w.Deploy(charmtest.Options{App: "worker", Units: 1, Postgres: charmtest.PostgresAbsent,
				Config: map[string]any{"mode": "worker", "worker-runtime": "guardian", "baggageclaim-driver": "naive",
					"worker-environment": "CONCOURSE_GARDEN_DNS_SERVER=10.0.0.2\n"}}))
			w.Model.Relate("web", "tsa", "worker", "web-tsa")
			return w
		},
	}
	for _, mode := range slices.Sorted(maps.Keys(modes)) {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			w := modes[mode](t)
			converge(t, w)
			app := map[string]string{"web": "web", "worker": "worker"}[mode]
			checkGolden(t, "mode-"+mode, renderInstalled(t, w, app))
		})
	}
}

// renderInstalled shows what the charm installed on app's units (every
// application's when app is ""), paths relative to the world's directory.
func renderInstalled(t *testing.T, w *charmtest.World, app string) string {
	t.Helper()
	var b strings.Builder
	for _, a := range w.Apps() {
		if app != "" && a != app {
			continue
		}
		for _, unit := range w.Model.Units(a) {
			installed := w.Machine(unit).Installed()
			for _, role := range []charm.Role{charm.RoleWeb, charm.RoleWorker} {
				u, ok := installed[role]
				if !ok {
					continue
				}
				fmt.Fprintf(&b, "=== %s %s: %s\n%s", unit, role, u.Name, u.File)
				fmt.Fprintf(&b, "=== %s %s: %s (secrets masked)\n", unit, role, u.EnvPath)
				env := concourse.MaskSecrets(u.Env)
				env[charm.FilesDigestVariable] = "<sha256 of files holding generated keys>"
				for _, k := range slices.Sorted(maps.Keys(env)) {
					fmt.Fprintf(&b, "%s=%s\n", k, env[k])
				}
			}
		}
	}
	return strings.ReplaceAll(b.String(), w.Dir, "$DIR")
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./charm -run Golden -update to create it")
	assert.Equal(t, string(want), got, "rewrite with -update if the change is meant")
	for _, secret := range []string{"hunter2", "pg-s3cret", "user:pw@"} {
		assert.NotContains(t, got, secret)
	}
}
