package fsm

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDocsStatesUpToDate fails when docs/states.md differs from what the
// tables generate: the tables are the truth, the file is a copy.
func TestDocsStatesUpToDate(t *testing.T) {
	t.Parallel()
	path := filepath.Join("..", "docs", "states.md")
	committed, err := os.ReadFile(path)
	require.NoError(t, err, "docs/states.md is missing: run make docs")
	require.Equal(t, Markdown(Tables()), string(committed), "docs/states.md is out of date with fsm/: run make docs")
}
