// Package rooms_test keeps the rooms' imports pointing down, as the
// README's architecture table draws them: a lower room that imports a
// higher one builds fine and is found only by a reader, so a test reads
// every package's non-test imports instead.
package rooms_test

import (
	"go/build"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const module = "github.com/concourse-ci-machine/concourse-ci-machine/"

// mayImport lists, for each room (a folder and everything below it, the
// longest prefix wins), the rooms of this module its production code may
// import besides its own. Tests may import more (fixtures of other rooms).
var mayImport = map[string][]string{
	"internal":  nil,
	"fsm":       {"internal"},
	"storage":   {"internal"},
	"services":  {"internal"},
	"concourse": {"internal"},
	"installer": {"fsm", "storage", "internal"},
	"relation":  {"concourse", "fsm", "internal"},
	"charm":     {"relation", "installer", "services", "concourse", "storage", "fsm", "internal"},
	"cmd":       {"charm", "relation", "installer", "services", "concourse", "storage", "fsm", "internal"},
	"tools":     {"internal"},
	// A fake Concourse is honest only with Concourse's own flag list.
	"internal/fakeconcourse": {"concourse", "internal"},
}

// roomOf is the longest key of mayImport that rel lies in.
func roomOf(rel string) (string, bool) {
	best := ""
	for room := range mayImport {
		if (rel == room || strings.HasPrefix(rel, room+"/")) && len(room) > len(best) {
			best = room
		}
	}
	return best, best != ""
}

func TestRoomsImportDown(t *testing.T) {
	t.Parallel()
	checked := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() || path == "." {
			return err
		}
		if name := d.Name(); strings.HasPrefix(name, ".") || name == "testdata" {
			return filepath.SkipDir
		}
		pkg, err := build.ImportDir(path, 0)
		if _, ok := err.(*build.NoGoError); ok {
			return nil
		}
		require.NoError(t, err, path)
		room, ok := roomOf(filepath.ToSlash(path))
		if !assert.True(t, ok, "package %s lies in no room of mayImport: add its room", path) {
			return nil
		}
		checked++
		for _, imp := range pkg.Imports {
			rel, ours := strings.CutPrefix(imp, module)
			if !ours {
				continue
			}
			to, _ := roomOf(rel)
			assert.True(t, to == room || allowed(room, rel),
				"%s (room %s) imports %s: imports point down (README, Architecture)", path, room, rel)
		}
		return nil
	})
	require.NoError(t, err)
	assert.Greater(t, checked, 20, "the walk found the packages")
}

// allowed says room may import the package rel.
func allowed(room, rel string) bool {
	for _, up := range mayImport[room] {
		if rel == up || strings.HasPrefix(rel, up+"/") {
			return true
		}
	}
	return false
}
