package charmfiles

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

func TestTheCharmsFileLoads(t *testing.T) {
	t.Parallel()
	c, err := LoadRoot(".")
	require.NoError(t, err)
	assert.Equal(t, "concourse-ci-machine", c.Name)
	assert.Contains(t, c.ConfigNames(), "version")
	assert.Contains(t, c.ActionNames(), "upgrade")
	assert.Equal(t, []string{"version"}, c.ActionParams("upgrade"))
	assert.Equal(t, []string{"amd64"}, c.Architectures())
}

const minimal = `
name: x-charm
type: charm
summary: s
description: d
platforms:
  ubuntu@22.04:amd64:
  ubuntu@22.04:arm64:
  ubuntu@24.04:amd64:
config:
  options:
    a-number:
      type: int
      default: 3
      description: one line
actions:
  go:
    description: does it
    params:
      what:
        type: string
        description: the thing
    required: [what]
`

func TestParseMinimal(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte(minimal))
	require.NoError(t, err)
	bases, err := c.Bases()
	require.NoError(t, err)
	assert.Equal(t, []Base{
		{Name: "ubuntu", Channel: "22.04", Architectures: []string{"amd64", "arm64"}},
		{Name: "ubuntu", Channel: "24.04", Architectures: []string{"amd64"}},
	}, bases)
	assert.Equal(t, []string{"amd64", "arm64"}, c.Architectures())
	assert.Equal(t, []string{"a-number"}, c.ConfigNames())
	assert.Equal(t, []string{"go"}, c.ActionNames())

	files, err := c.JujuFiles()
	require.NoError(t, err)
	var cfg struct {
		Options map[string]Option `yaml:"options"`
	}
	require.NoError(t, yaml.Unmarshal(files["config.yaml"], &cfg))
	assert.Equal(t, Option{Type: "int", Default: 3, Description: "one line"}, cfg.Options["a-number"])
	var md map[string]any
	require.NoError(t, yaml.Unmarshal(files["metadata.yaml"], &md))
	assert.Equal(t, "x-charm", md["name"])
	assert.NotContains(t, md, "config", "config and actions are not metadata")
	assert.True(t, strings.HasPrefix(string(files["actions.yaml"]), generated))
}

func TestParseRefuses(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, from, to, want string
	}{
		{"unknown key", "type: charm\n", "type: charm\ncontainers: {}\n", "field containers not found"},
		{"not a charm", "type: charm\n", "type: bundle\n", "not charm"},
		{"bad name", "name: x-charm", "name: X_charm", "not a charm name"},
		{"default of the wrong type", "default: 3", "default: three", "is not a int"},
		{"unknown option type", "type: int", "type: integer", "is not one of"},
		{"two-line description", "description: one line", "description: \"one\\nline\"", "one-line description"},
		{"undeclared required parameter", "required: [what]", "required: [which]", "which is not declared"},
		{"parameter without a type", "        type: string\n", "", "needs a type"},
		{"odd platform", "ubuntu@22.04:arm64:", "jammy:", "not of the form"},
		{"shared storage", "type: charm\n", "type: charm\nstorage:\n  data:\n    type: filesystem\n    shared: true\n", "shared: true is refused"},
		{"relation without interface", "type: charm\n", "type: charm\nrequires:\n  db: {}\n", "needs a hyphenated name and an interface"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			text := strings.Replace(minimal, c.from, c.to, 1)
			require.NotEqual(t, minimal, text, "the case changes the file")
			_, err := Parse([]byte(text))
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
		})
	}
}
