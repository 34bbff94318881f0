package main

import (
	"archive/zip"
	"bytes"
	"context"
	"debug/elf"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/concourse-ci-machine/concourse-ci-machine/fsm"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/version"
	"github.com/concourse-ci-machine/concourse-ci-machine/tools/charmpack/charmfiles"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := charmfiles.FindRoot(".")
	require.NoError(t, err)
	return root
}

// packed is the charm built once by TestPackedCharm, unzipped.
type packed struct {
	names []string
	files map[string][]byte
	modes map[string]fs.FileMode
	raw   []byte
}

func packCharm(t *testing.T) packed {
	t.Helper()
	out := filepath.Join(t.TempDir(), "concourse-ci-machine.charm")
	names, err := Pack(context.Background(), Options{Root: repoRoot(t), Output: out})
	require.NoError(t, err)
	raw, err := os.ReadFile(out)
	require.NoError(t, err)
	zr, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	require.NoError(t, err)
	p := packed{files: map[string][]byte{}, modes: map[string]fs.FileMode{}, raw: raw}
	for _, f := range zr.File {
		rc, err := f.Open()
		require.NoError(t, err)
		data, err := io.ReadAll(rc)
		require.NoError(t, err)
		rc.Close()
		p.names = append(p.names, f.Name)
		p.files[f.Name] = data
		p.modes[f.Name] = f.Mode()
	}
	assert.Equal(t, names, p.names, "Pack reports what it wrote")
	return p
}

func yamlDoc(t *testing.T, data []byte) map[string]any {
	t.Helper()
	var doc map[string]any
	require.NoError(t, yaml.Unmarshal(data, &doc))
	return doc
}

// dig walks nested maps.
func dig(t *testing.T, doc map[string]any, path ...string) any {
	t.Helper()
	var cur any = doc
	for _, p := range path {
		m, ok := cur.(map[string]any)
		require.True(t, ok, "%v: %q is not a map", path, p)
		cur, ok = m[p]
		require.True(t, ok, "%v: no %q", path, p)
	}
	return cur
}

func TestPackedCharm(t *testing.T) {
	p := packCharm(t)

	t.Run("entries", func(t *testing.T) {
		assert.Equal(t, []string{"actions.yaml", "config.yaml", "dispatch", "lxd-profile.yaml", "manifest.yaml", "metadata.yaml"}, p.names)
		for _, name := range p.names {
			want := fs.FileMode(0o644)
			if name == "dispatch" {
				want = 0o755
			}
			assert.Equal(t, want, p.modes[name], name)
			assert.False(t, strings.Contains(name, "/"), "no directories (no hooks/): %s", name)
		}
	})

	t.Run("metadata.yaml", func(t *testing.T) {
		md := yamlDoc(t, p.files["metadata.yaml"])
		assert.Equal(t, "concourse-ci-machine", md["name"])
		assert.NotEmpty(t, md["summary"])
		assert.NotEmpty(t, md["description"])
		assert.Equal(t, "concourse_ci_machine_peers", dig(t, md, "peers", "peers", "interface"))
		assert.Equal(t, "postgresql_client", dig(t, md, "requires", "postgresql", "interface"))
		assert.Equal(t, 1, dig(t, md, "requires", "postgresql", "limit"))
		assert.Equal(t, "concourse_tsa", dig(t, md, "requires", "web-tsa", "interface"))
		assert.Equal(t, "concourse_tsa", dig(t, md, "provides", "tsa", "interface"))
		storage := dig(t, md, "storage", "concourse-data").(map[string]any)
		assert.Equal(t, "filesystem", storage["type"])
		assert.Equal(t, "/var/lib/concourse", storage["location"])
		assert.NotContains(t, storage, "shared", "Juju refuses shared storage for machine charms")
		assert.Equal(t, "file", dig(t, md, "resources", "concourse-release", "type"))
	})

	t.Run("config.yaml", func(t *testing.T) {
		options := dig(t, yamlDoc(t, p.files["config.yaml"]), "options").(map[string]any)
		want := map[string]struct {
			typ string
			def any
		}{
			"mode": {"string", "auto"}, "version": {"string", "7.14.3"}, "shared-storage": {"string", "auto"},
			"release-url":    {"string", "https://github.com/concourse/concourse/releases/download/v{version}/concourse-{version}-linux-amd64.tgz"},
			"release-sha256": {"string", ""}, "release-space": {"string", ""}, "keep-releases": {"int", 2},
			"prepare-timeout": {"string", "10m"}, "drain-timeout": {"string", "10m"}, "web-port": {"int", 8080},
			"external-url": {"string", ""}, "initial-admin-username": {"string", "admin"},
			"worker-runtime": {"string", "containerd"}, "baggageclaim-driver": {"string", "detect"},
			"log-level": {"string", "info"}, "cluster-name": {"string", ""}, "worker-tags": {"string", ""},
			"web-environment": {"string", ""}, "worker-environment": {"string", ""},
		}
		assert.ElementsMatch(t, slices.Collect(maps.Keys(want)), slices.Collect(maps.Keys(options)))
		for name, w := range want {
			o, ok := options[name].(map[string]any)
			if !assert.True(t, ok, name) {
				continue
			}
			assert.Equal(t, w.typ, o["type"], name)
			assert.Equal(t, w.def, o["default"], name)
			desc, _ := o["description"].(string)
			assert.NotEmpty(t, desc, name)
			assert.NotContains(t, strings.TrimSpace(desc), "\n", "%s: one line", name)
		}
	})

	t.Run("actions.yaml", func(t *testing.T) {
		actions := yamlDoc(t, p.files["actions.yaml"])
		names := slices.Sorted(maps.Keys(actions))
		assert.Equal(t, []string{"get-admin-password", fsm.ActionUpgrade, fsm.ActionUpgradeAbort, fsm.ActionUpgradeRetry, fsm.ActionUpgradeRollback, "upgrade-status"}, names)
		for _, name := range names {
			a := actions[name].(map[string]any)
			assert.NotEmpty(t, a["description"], name)
			assert.Equal(t, false, a["additionalProperties"], "%s refuses unknown parameters", name)
		}
		assert.Equal(t, []any{"version"}, dig(t, actions, "upgrade", "required"))
		assert.Equal(t, "string", dig(t, actions, "upgrade", "params", "version", "type"))
		assert.NotEmpty(t, dig(t, actions, "upgrade", "params", "version", "pattern"))
	})

	t.Run("manifest.yaml", func(t *testing.T) {
		// Juju reads bases: name, channel (a string), architectures.
		var m struct {
			Bases []charmfiles.Base `yaml:"bases"`
		}
		dec := yaml.NewDecoder(bytes.NewReader(p.files["manifest.yaml"]))
		dec.KnownFields(true)
		require.NoError(t, dec.Decode(&m))
		assert.Equal(t, []charmfiles.Base{
			{Name: "ubuntu", Channel: "22.04", Architectures: []string{"amd64"}},
			{Name: "ubuntu", Channel: "24.04", Architectures: []string{"amd64"}},
		}, m.Bases)
		assert.Contains(t, string(p.files["manifest.yaml"]), `channel: "22.04"`, "quoted, or YAML reads a float")
	})

	t.Run("lxd-profile.yaml", func(t *testing.T) {
		// Juju's rules (juju/charm lxdprofile.go ValidateConfigDevices).
		var profile struct {
			Description string                       `yaml:"description"`
			Config      map[string]string            `yaml:"config"`
			Devices     map[string]map[string]string `yaml:"devices"`
		}
		dec := yaml.NewDecoder(bytes.NewReader(p.files["lxd-profile.yaml"]))
		dec.KnownFields(true)
		require.NoError(t, dec.Decode(&profile))
		for key := range profile.Config {
			for _, refused := range []string{"boot", "limits", "migration"} {
				assert.False(t, strings.HasPrefix(key, refused), "Juju refuses %s", key)
			}
		}
		for name, d := range profile.Devices {
			assert.Contains(t, []string{"unix-char", "unix-block", "gpu", "usb"}, d["type"], name)
		}
		assert.Equal(t, "true", profile.Config["security.nesting"])
		assert.Contains(t, profile.Config["linux.kernel_modules"], "overlay")
	})

	t.Run("dispatch", func(t *testing.T) {
		f, err := elf.NewFile(bytes.NewReader(p.files["dispatch"]))
		require.NoError(t, err)
		assert.Equal(t, elf.ET_EXEC, f.Type, "an executable, not a position-independent or shared object")
		assert.Equal(t, elf.EM_X86_64, f.Machine)
		for _, prog := range f.Progs {
			assert.NotEqual(t, elf.PT_INTERP, prog.Type, "a static binary asks for no dynamic loader")
			assert.NotEqual(t, elf.PT_DYNAMIC, prog.Type)
		}
		libs, err := f.ImportedLibraries() // DT_NEEDED
		require.NoError(t, err)
		assert.Empty(t, libs)

		// And it runs: the operator CLI answers help.
		bin := filepath.Join(t.TempDir(), "dispatch")
		require.NoError(t, os.WriteFile(bin, p.files["dispatch"], p.modes["dispatch"]))
		out, err := exec.Command(bin, "help").CombinedOutput()
		require.NoError(t, err, string(out))
		assert.Contains(t, string(out), "inspect")
	})

	t.Run("reproducible", func(t *testing.T) {
		again := packCharm(t)
		assert.Equal(t, p.raw, again.raw, "packing the same tree twice gives the same bytes")
	})
}

// charmcraft.yaml is what charmcraft's go plugin builds from; charmcraft
// cannot run here, so its keys are checked.
func TestCharmcraftYAMLForTheGoPlugin(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	cc, err := charmfiles.Load(filepath.Join(root, charmfiles.FileName))
	require.NoError(t, err)
	part := cc.Parts["charm"]
	assert.Equal(t, "go", part.Plugin)
	assert.Equal(t, ".", part.Source)
	assert.Contains(t, part.BuildEnvironment, map[string]string{"CGO_ENABLED": "0"})
	require.Len(t, part.BuildSnaps, 1)
	assert.Regexp(t, `^go/1\.\d+/stable$`, part.BuildSnaps[0])
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	require.NoError(t, err)
	goVersion := regexp.MustCompile(`(?m)^go (1\.\d+)`).FindSubmatch(gomod)
	require.NotNil(t, goVersion)
	assert.Equal(t, "go/"+string(goVersion[1])+"/stable", part.BuildSnaps[0], "the snap's Go is the one go.mod asks for")
	// The plugin installs every main package into $CRAFT_PART_INSTALL/bin;
	// the charm's binary must become dispatch, and only it is primed.
	assert.Contains(t, part.OverrideBuild, "craftctl default")
	assert.Contains(t, part.OverrideBuild, `"$CRAFT_PART_INSTALL/bin/`+filepath.Base(DispatchPackage)+`" "$CRAFT_PART_INSTALL/dispatch"`)
	assert.Equal(t, []string{"dispatch"}, part.Prime)
	profile := cc.Parts["lxd-profile"]
	assert.Equal(t, "dump", profile.Plugin)
	assert.Equal(t, []string{LXDProfileName}, profile.Prime)

	// charmcraft refuses a metadata.yaml that repeats charmcraft.yaml's
	// fields; the packed files are derived instead.
	for _, name := range []string{"metadata.yaml", "config.yaml", "actions.yaml", "manifest.yaml"} {
		assert.NoFileExists(t, filepath.Join(root, name))
	}
}

// The upgrade action's JSON-schema pattern accepts exactly what the
// charm's version parser accepts (bar an upper-case V, which the parser
// also takes).
func TestUpgradeVersionPattern(t *testing.T) {
	t.Parallel()
	cc, err := charmfiles.LoadRoot(".")
	require.NoError(t, err)
	pattern := regexp.MustCompile(cc.Actions["upgrade"].Params["version"]["pattern"].(string))
	for _, v := range []string{
		"7.14.3", "v7.14.3", "7.14.3-rc.1", "7.14.3+build.5", "0.0.0", "10.20.30-alpha.beta-1+x.y",
		"7.14", "7.14.3.1", "07.14.3", "7.14.3-01", "7.14.3-", "7.14.3+", "7.14.3-rc..1", "", "latest", "7.14.3 ", " 7.14.3", "7.14.3\n",
	} {
		_, err := version.Parse(v)
		assert.Equal(t, err == nil, pattern.MatchString(v), "%q", v)
	}
}

func TestRunUsage(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	assert.ErrorIs(t, run(context.Background(), []string{"extra"}, &stdout, &stderr), errUsage)
	assert.ErrorIs(t, run(context.Background(), []string{"-bogus"}, &stdout, &stderr), errUsage)
	assert.NoError(t, run(context.Background(), []string{"-h"}, &stdout, &stderr))
}

func TestPackRefusesAMissingDispatch(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "x.charm")
	_, err := Pack(context.Background(), Options{Root: repoRoot(t), Output: out, Dispatch: filepath.Join(t.TempDir(), "none")})
	assert.Error(t, err)
	assert.NoFileExists(t, out)
}
