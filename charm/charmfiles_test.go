package charm

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/concourse-ci-machine/concourse-ci-machine/fsm"
	"github.com/concourse-ci-machine/concourse-ci-machine/relation"
	"github.com/concourse-ci-machine/concourse-ci-machine/tools/charmpack/charmfiles"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every config option the code reads is declared in charmcraft.yaml with
// the default DefaultConfig gives it, and every declared option is read.
func TestConfigOptionsMatchCharmcraft(t *testing.T) {
	t.Parallel()
	cc, err := charmfiles.LoadRoot(".")
	require.NoError(t, err)
	_, read, err := parseConfig(nil)
	require.NoError(t, err)
	assert.Equal(t, cc.ConfigNames(), slices.Sorted(maps.Keys(read)), "options read by ParseConfig vs declared in charmcraft.yaml")
	defaults := DefaultConfig()
	assert.Equal(t, cc.ConfigNames(), slices.Sorted(maps.Keys(defaults)), "DefaultConfig vs charmcraft.yaml")
	for name, opt := range cc.Config.Options {
		assert.Equal(t, fmt.Sprint(opt.Default), fmt.Sprint(defaults[name]), "default of %s", name)
	}
}

// Every action the code runs is declared, and the other way round; every
// parameter the code reads is declared by an action, and every declared
// parameter is read.
func TestActionsMatchCharmcraft(t *testing.T) {
	t.Parallel()
	cc, err := charmfiles.LoadRoot(".")
	require.NoError(t, err)
	assert.Equal(t, cc.ActionNames(), slices.Sorted(slices.Values(fsm.Actions())))
	declared := map[string]bool{}
	for _, a := range cc.ActionNames() {
		for _, p := range cc.ActionParams(a) {
			declared[p] = true
		}
	}
	read := actionParamsRead(t)
	assert.NotEmpty(t, read)
	assert.Equal(t, slices.Sorted(maps.Keys(declared)), slices.Sorted(maps.Keys(read)), "parameters read (params[\"...\"] in the charm's code) vs declared")
}

// actionParamsRead finds every params["name"] in the package's code: the
// parameters the actions read from action-get.
func actionParamsRead(t *testing.T) map[string]bool {
	t.Helper()
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	fset := token.NewFileSet()
	read := map[string]bool{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		require.NoError(t, err)
		ast.Inspect(f, func(n ast.Node) bool {
			ix, ok := n.(*ast.IndexExpr)
			if !ok {
				return true
			}
			if id, ok := ix.X.(*ast.Ident); ok && id.Name == "params" {
				if lit, ok := ix.Index.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					name, err := strconv.Unquote(lit.Value)
					require.NoError(t, err)
					read[name] = true
				}
			}
			return true
		})
	}
	return read
}

// The relations the code uses are declared with their interfaces.
func TestRelationsMatchCharmcraft(t *testing.T) {
	t.Parallel()
	cc, err := charmfiles.LoadRoot(".")
	require.NoError(t, err)
	assert.Equal(t, "postgresql_client", cc.Requires[relation.PostgresEndpoint].Interface)
	assert.Equal(t, 1, cc.Requires[relation.PostgresEndpoint].Limit)
	assert.Equal(t, "concourse_tsa", cc.Requires[relation.WebTSAEndpoint].Interface)
	assert.Equal(t, 1, cc.Requires[relation.WebTSAEndpoint].Limit)
	assert.Equal(t, "concourse_tsa", cc.Provides[relation.TSAEndpoint].Interface)
	assert.Contains(t, cc.Peers, relation.PeerRelation)
	assert.Contains(t, cc.Storage, StorageName)
	for _, endpoint := range []string{relation.PeerRelation, relation.PostgresEndpoint, relation.TSAEndpoint, relation.WebTSAEndpoint} {
		assert.True(t, knownHook(endpoint+"-relation-changed"), endpoint)
	}
}
