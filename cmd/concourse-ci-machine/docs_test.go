package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// documentedCommands returns the commands a markdown file shows: every
// line of a fenced code block and every inline code span, without shell
// comments.
func documentedCommands(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var cmds []string
	add := func(s string) {
		if i := strings.Index(s, " #"); i >= 0 {
			s = s[:i]
		}
		if s = strings.TrimSpace(s); s != "" {
			cmds = append(cmds, s)
		}
	}
	inBlock := false
	span := regexp.MustCompile("`([^`]+)`")
	for _, line := range strings.Split(string(data), "\n") {
		switch {
		case strings.HasPrefix(line, "```"):
			inBlock = !inBlock
		case inBlock:
			add(line)
		default:
			for _, m := range span.FindAllStringSubmatch(line, -1) {
				add(m[1])
			}
		}
	}
	return cmds
}

// Every concourse-ci-machine command that README.md and docs/states.md
// (whose runbook texts come from fsm/) show runs and exits 0, on a volume
// standing in for the paths they name; every make target they show exists
// (make -n: the targets themselves are what CI runs). Lines for other
// programs (juju, apt-get) are not run here.
func TestDocumentedCommandsRun(t *testing.T) {
	t.Parallel()
	volume, _ := populatedVolume(t)
	placeholders := strings.NewReplacer("/var/lib/concourse", volume)
	root := filepath.Join("..", "..")
	for _, doc := range []string{"README.md", filepath.Join("docs", "states.md")} {
		ours, seen := 0, map[string]bool{}
		for _, line := range documentedCommands(t, filepath.Join(root, doc)) {
			if seen[line] {
				continue
			}
			seen[line] = true
			args := strings.Fields(placeholders.Replace(line))
			switch args[0] {
			case "concourse-ci-machine":
				ours++
				r := cli(t, args[1:]...)
				assert.Equal(t, 0, r.code, "%s: %s\n%s", doc, line, r.stderr)
				assert.NotEmpty(t, r.stdout, "%s: %s", doc, line)
			case "make":
				// Through a shell: the line may quote (ARGS="--units 5").
				cmd := exec.Command("sh", "-c", "exec make -n"+strings.TrimPrefix(line, "make"))
				cmd.Dir = root
				out, err := cmd.CombinedOutput()
				assert.NoError(t, err, "%s: %s\n%s", doc, line, out)
			}
		}
		assert.NotZero(t, ours, "%s shows no concourse-ci-machine command: is the extraction broken?", doc)
	}
}
