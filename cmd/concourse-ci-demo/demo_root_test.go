//go:build !unit

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/cmd/internal/localcluster"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The demo is run as it ships: both binaries built, the demo started as a
// process. It needs root and the systemd package (its private systemd).

var binaries struct {
	dir  string
	demo string
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "concourse-ci-demo-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binaries.dir, binaries.demo = dir, filepath.Join(dir, "concourse-ci-demo")
	for pkg, out := range map[string]string{"./": binaries.demo, "../concourse-ci-machine": filepath.Join(dir, "concourse-ci-machine")} {
		if b, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n%s", pkg, err, b)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func runDemo(t *testing.T, args ...string) localcluster.Summary {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(binaries.demo, append([]string{"--json"}, args...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "demo failed:\n%s", stderr.String())
	var s localcluster.Summary
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &s), "stdout is one JSON object: %q", stdout.String())
	t.Logf("progress:\n%s", stderr.String())
	return s
}

func checkSummary(t *testing.T, s localcluster.Summary, units int) {
	t.Helper()
	assert.Equal(t, units, s.Units)
	assert.Equal(t, "idle", s.Phase)
	assert.Equal(t, "7.14.4", s.Version)
	assert.Equal(t, map[string]int{"7.14.3": 1, "7.14.4": 1}, s.DownloadsPerVersion, "one download per version for the cluster")
	assert.InDelta(t, float64(len(s.KeptReleases)), s.VolumeRatio, 0.05, "about one release's bytes per kept release")
	assert.Len(t, s.InstallSeconds, units)
	for u, st := range s.WorkersRunning {
		assert.True(t, strings.HasPrefix(st, "active: ") && strings.Contains(st, "7.14.4"), "%s: %s", u, st)
	}
}

func TestDemoThreeUnits(t *testing.T) {
	s := runDemo(t, "--units", "3")
	checkSummary(t, s, 3)
	assert.Equal(t, "auto", s.Mode)
	assert.Len(t, s.WorkerDowntime, 2, "in mode auto the leader runs web, the two others a worker")
	for u, d := range s.WorkerDowntime {
		assert.Positive(t, d, "%s's worker was drained and started again", u)
	}
	noLeftovers(t)
}

func TestDemoModeAllOnTwoUnits(t *testing.T) {
	s := runDemo(t, "--units", "2", "--mode", "all")
	checkSummary(t, s, 2)
	for u, st := range s.WorkersRunning {
		assert.Contains(t, st, "web+worker", u)
	}
	noLeftovers(t)
}

// Killing the demo mid-upgrade, by SIGTERM or by SIGKILL of the shell that
// started it, leaves no process of it and nothing outside the documented
// paths.
func TestDemoKilledMidUpgradeLeavesNothing(t *testing.T) {
	for _, how := range []string{"SIGTERM", "SIGKILL of its parent"} {
		t.Run(how, func(t *testing.T) {
			var out bytes.Buffer
			cmd := exec.Command("sh", "-c", `"$0" --units 3 --drain-after 5s & echo demo $! ; wait`, binaries.demo)
			cmd.Stdout, cmd.Stderr = &out, &out
			require.NoError(t, cmd.Start())
			var demoPID int
			require.Eventually(t, func() bool {
				_, err := fmt.Sscanf(out.String(), "demo %d", &demoPID)
				return err == nil && strings.Contains(out.String(), "upgrade version=7.14.4")
			}, 3*time.Minute, 100*time.Millisecond, "the demo reaches the upgrade:\n%s", &out)
			time.Sleep(time.Second)
			if how == "SIGTERM" {
				require.NoError(t, syscall.Kill(demoPID, syscall.SIGTERM))
			} else {
				require.NoError(t, cmd.Process.Kill())
			}
			_ = cmd.Wait()
			require.Eventually(t, func() bool { return syscall.Kill(demoPID, 0) != nil }, time.Minute, 100*time.Millisecond, "the demo exits")
			require.Eventually(t, func() bool { return len(demoProcesses()) == 0 }, time.Minute, 200*time.Millisecond,
				"processes left: %v", demoProcesses())
			noLeftovers(t)
		})
	}
}

// demoProcesses lists what a demo starts that could outlive it.
func demoProcesses() []string {
	pattern := "systemd --system|systemd-socket-proxyd|systemdtest|" + binaries.dir + "|/demo/"
	out, _ := exec.Command("pgrep", "-a", "-f", pattern).Output()
	var left []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line != "" && !strings.Contains(line, "pgrep") && !strings.Contains(line, "go test") && !strings.Contains(line, ".test ") {
			left = append(left, line)
		}
	}
	return left
}

// noLeftovers checks the documented list: the private systemd's base dir,
// its cgroups and the demo's agent sockets are all gone.
func noLeftovers(t *testing.T) {
	t.Helper()
	require.Eventually(t, func() bool {
		entries, _ := filepath.Glob("/var/lib/concourse-ci-machine-systemdtest/*")
		agents, _ := filepath.Glob(filepath.Join(os.TempDir(), "localcluster-agent-*"))
		cgroups, _ := filepath.Glob("/sys/fs/cgroup/*/systemdtest-*")
		mounts, _ := os.ReadFile("/proc/self/mountinfo")
		return len(entries) == 0 && len(agents) == 0 && len(cgroups) == 0 && !bytes.Contains(mounts, []byte("systemdtest"))
	}, time.Minute, 200*time.Millisecond, "the demo left files, cgroups or mounts behind")
}

// `concourse-ci-demo | head`: once head has gone, the demo's next line hits
// a closed pipe; it stops and cleans up.
func TestDemoPipedIntoHeadLeavesNothing(t *testing.T) {
	out, err := exec.Command("sh", "-c", `"$0" --units 2 | head -n 3`, binaries.demo).Output()
	require.NoError(t, err, "%s", out)
	assert.Len(t, strings.Split(strings.TrimSpace(string(out)), "\n"), 3)
	require.Eventually(t, func() bool { return len(demoProcesses()) == 0 }, 2*time.Minute, 200*time.Millisecond,
		"processes left: %v", demoProcesses())
	noLeftovers(t)
}
