package charm

import (
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/fsm"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/version"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseConfigDefaults(t *testing.T) {
	t.Parallel()
	c, err := ParseConfig(DefaultConfig())
	require.NoError(t, err)
	assert.Equal(t, Config{
		Mode: ModeAuto, Version: version.MustParse("7.14.3"), SharedStorage: SharedAuto, ReleaseURL: DefaultReleaseURL,
		KeepReleases: 2, PrepareTimeout: 10 * time.Minute, DrainTimeout: 10 * time.Minute, WebPort: 8080,
		InitialAdminUsername: "admin", WorkerRuntime: "containerd", BaggageclaimDriver: "detect", LogLevel: "info",
		WebExtra: map[string]string{}, WorkerExtra: map[string]string{},
	}, c)
	empty, err := ParseConfig(nil)
	require.NoError(t, err, "options Juju leaves out take their defaults")
	assert.Equal(t, c, empty)
}

func TestParseConfigReadsJujusTypes(t *testing.T) {
	t.Parallel()
	raw := DefaultConfig()
	raw["web-port"] = json.Number("9090")
	raw["keep-releases"] = float64(3)
	raw["version"] = "v7.14.4"
	raw["release-space"] = "800M"
	raw["release-sha256"] = strings.Repeat("AB", 32)
	raw["external-url"] = "https://ci.example.com/"
	c, err := ParseConfig(raw)
	require.NoError(t, err)
	assert.Equal(t, 9090, c.WebPort)
	assert.Equal(t, 3, c.KeepReleases)
	assert.Equal(t, "7.14.4", c.Version.String(), "a v prefix is accepted and dropped")
	assert.Equal(t, int64(800<<20), c.ReleaseSpace, "M is MiB, as in Juju's constraints and the CLI's --space-needed")
	assert.Equal(t, strings.Repeat("ab", 32), c.ReleaseSHA256)
	assert.Equal(t, "https://ci.example.com", c.ExternalURL)
	raw["release-space"] = "2GiB"
	raw["cluster-name"] = " ci "
	raw["worker-tags"] = "gpu, arm64,,gpu"
	raw["web-environment"] = "# auth\nCONCOURSE_GITHUB_CLIENT_ID=id\n\nCONCOURSE_GITHUB_CLIENT_SECRET=s=3\n"
	raw["worker-environment"] = "CONCOURSE_GARDEN_DNS_SERVER=10.0.0.2"
	c, err = ParseConfig(raw)
	require.NoError(t, err)
	assert.Equal(t, int64(2<<30), c.ReleaseSpace)
	assert.Equal(t, "ci", c.ClusterName)
	assert.Equal(t, []string{"gpu", "arm64"}, c.WorkerTags, "trimmed, empty and repeated tags dropped")
	assert.Equal(t, map[string]string{"CONCOURSE_GITHUB_CLIENT_ID": "id", "CONCOURSE_GITHUB_CLIENT_SECRET": "s=3"}, c.WebExtra)
	assert.Equal(t, map[string]string{"CONCOURSE_GARDEN_DNS_SERVER": "10.0.0.2"}, c.WorkerExtra)
}

// The pass-through options may hold secrets: a refusal names the line and
// the key, never the value.
func TestParseConfigNeverEchoesThePassThrough(t *testing.T) {
	t.Parallel()
	for option, text := range map[string]string{
		"web-environment":    "CONCOURSE_GITHUB_CLIENT_SECRET=hunter2\nCONCOURSE_POSTGRES_PASSWORD=hunter2",
		"worker-environment": "CONCOURSE_NOT_A_SETTING=hunter2",
	} {
		raw := DefaultConfig()
		raw[option] = text
		_, err := ParseConfig(raw)
		var ce *ConfigError
		require.ErrorAs(t, err, &ce, option)
		assert.Equal(t, option, ce.Option)
		assert.NotContains(t, err.Error(), "hunter2")
		h := &hook{app: "ci"}
		line := h.adviceLine(err)
		assert.NotContains(t, line, "hunter2")
		assert.Contains(t, line, "Fix juju config ci "+option+": ", line)
		assert.LessOrEqual(t, len(line), 120)
		assert.NotContains(t, line, "...", "the line fits whole")
	}
}

// Every refused option is named, with why, all at once; nothing else acts.
func TestParseConfigRefusesBadValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		option  string
		value   any
		problem string
	}{
		{"mode", "both", "is not one of auto, web, worker, all"},
		{"version", "latest", "is not a Concourse release version"},
		{"version", "", "is empty"},
		{"shared-storage", "nfs", "is not one of"},
		{"release-url", "https://example.com/concourse.tgz", "must contain {version}"},
		{"release-url", "ftp://example.com/{version}.tgz", "is not an http(s) URL"},
		{"release-sha256", "abc", "is not a SHA-256 digest"},
		{"release-space", "lots", "is not a size"},
		{"release-space", "800MB", "decimal units are ambiguous here; use binary ones such as 800M"},
		{"keep-releases", 0, "is not between 1 and 100"},
		{"keep-releases", "two", "is not a whole number"},
		{"keep-releases", 2.5, "is not a whole number"},
		{"prepare-timeout", "soon", "is not a duration"},
		{"prepare-timeout", "10s", "is too short"},
		{"drain-timeout", "30s", "at least 1m30s: an idle worker needs up to a minute to land"},
		{"web-port", 70000, "is not between 1 and 65535"},
		{"web-port", 2222, "is the TSA's port"},
		{"external-url", "ci.example.com", "is not an http(s) URL"},
		{"initial-admin-username", "root user", "is not a user name"},
		{"worker-runtime", "docker", "is not one of containerd, guardian, houdini"},
		{"baggageclaim-driver", "zfs", "is not one of"},
		{"log-level", "chatty", "is not one of"},
		{"web-environment", 42, "is not a string"},
		{"web-environment", "GITHUB_CLIENT_ID=x", "line 1: its key does not start with CONCOURSE_"},
		{"worker-environment", "CONCOURSE_WORK_DIR=/tmp", "CONCOURSE_WORK_DIR is set by the charm"},
		{"cluster-name", "ci\x00", "contains a control character"},
		{"worker-tags", "gpu, big disk", "is not a tag"},
	}
	for _, tc := range tests {
		raw := maps.Clone(DefaultConfig())
		raw[tc.option] = tc.value
		_, err := ParseConfig(raw)
		var ce *ConfigError
		require.ErrorAs(t, err, &ce, "%s=%v", tc.option, tc.value)
		assert.Equal(t, tc.option, ce.Option)
		assert.Contains(t, err.Error(), tc.problem, "%s=%v", tc.option, tc.value)
	}
	raw := DefaultConfig()
	raw["mode"], raw["web-port"] = "both", "x"
	_, err := ParseConfig(raw)
	var joined interface{ Unwrap() []error }
	require.True(t, errors.As(err, &joined))
	assert.Len(t, joined.Unwrap(), 2, "every bad option at once")
}

func TestRolesFor(t *testing.T) {
	t.Parallel()
	assert.Equal(t, Roles{Web: true}, RolesFor(ModeAuto, true))
	assert.Equal(t, Roles{Worker: true}, RolesFor(ModeAuto, false))
	assert.Equal(t, Roles{Web: true, Worker: true}, RolesFor(ModeAll, false))
	assert.Equal(t, Roles{Web: true}, RolesFor(ModeWeb, false))
	assert.Equal(t, Roles{Worker: true}, RolesFor(ModeWorker, true))
	assert.Equal(t, "web+worker", RolesFor(ModeAll, true).String())
}

func TestStatusLinesFitJujusWidth(t *testing.T) {
	t.Parallel()
	var units []string
	for i := 0; i < 40; i++ {
		units = append(units, "concourse-ci-machine/"+strings.Repeat("1", 3))
	}
	_, template := phaseStatus(fsm.PhasePrepare)
	line := fill(template, map[string]string{"APP": "concourse-ci-machine", "TARGET": "7.14.4", "WAITING": "waiting for " + strings.Join(units, ", ")})
	assert.LessOrEqual(t, len(line), 120)
	assert.Contains(t, line, "(40 units)", "no room for a name: the count")
	assert.Contains(t, line, "juju run concourse-ci-machine/leader upgrade-abort", "the command survives the shortening")
	line = fill(template, map[string]string{"APP": "ci", "TARGET": "7.14.4", "WAITING": "waiting for " + strings.Join(units, ", ")})
	assert.LessOrEqual(t, len(line), 120)
	assert.Contains(t, line, "(waiting for 40 units)")
	line = fill(template, map[string]string{"APP": "ci", "TARGET": "7.14.4", "WAITING": "waiting for ci/1, ci/2, ci/3, ci/4, ci/5, ci/6, ci/7, ci/8, ci/9, ci/10, ci/11, ci/12"})
	assert.Contains(t, line, "(waiting for ci/1, ci/2, ci/3 +9 more)")

	short := fill(template, map[string]string{"APP": "c", "TARGET": "7.14.4", "WAITING": "waiting for c/1"})
	assert.Equal(t, "Upgrade to 7.14.4: draining workers (waiting for c/1). To give up: juju run c/leader upgrade-abort", short)
	assert.Len(t, fit(strings.Repeat("x", 300)), 120)

	// Every template, filled with long but plausible values, fits.
	for p := 0; p < 5; p++ {
		_, tmpl := phaseStatus(fsm.Phase(p))
		line := fill(tmpl, map[string]string{"APP": "concourse-ci-machine", "TARGET": "7.14.10-rc.12", "PREVIOUS": "7.14.9", "VERSION": "7.14.9",
			"ERROR": strings.Repeat("e", 200), "WAITING": "waiting for " + strings.Join(units[:5], ", ")})
		assert.LessOrEqual(t, len(line), 120, tmpl)
	}
}
