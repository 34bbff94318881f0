package storage

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/childtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Eight OS processes race to install under the lock with the double-checked
// marker: in every round exactly one does the work, the others see the
// marker it wrote.
func TestInstallRaceAcrossProcesses(t *testing.T) {
	t.Parallel()
	const processes, rounds = 8, 20
	for round := range rounds {
		root := t.TempDir()
		children := make([]*childtest.Child, processes)
		for i := range children {
			children[i] = startHelper(t, roleInstall, root, fmt.Sprintf("race/%d", i))
		}
		for _, c := range children { // start signal: all race at once
			_, err := c.Stdin.Write([]byte{'\n'})
			require.NoError(t, err)
		}
		worked, saw := 0, map[string]int{}
		for _, c := range children {
			line := c.Next(t)
			require.NoError(t, c.Wait())
			switch {
			case line == "worked":
				worked++
			case strings.HasPrefix(line, "saw "):
				saw[strings.TrimPrefix(line, "saw ")]++
			default:
				t.Fatalf("round %d: unexpected helper output %q", round, line)
			}
		}
		log, err := os.ReadFile(root + "/work.log")
		require.NoError(t, err)
		lines := strings.Split(strings.TrimSpace(string(log)), "\n")
		require.Len(t, lines, 1, "round %d: the work was done %d times: %q", round, len(lines), lines)
		require.Equal(t, 1, worked, "round %d", round)
		require.Equal(t, map[string]int{lines[0]: processes - 1}, saw, "round %d: the others must see the worker's marker", round)

		v, err := OpenVolume(root)
		require.NoError(t, err)
		iv, err := v.ReadInstalledVersion()
		require.NoError(t, err)
		require.Equal(t, lines[0], iv.Unit)
		p, err := v.ReadProgress()
		require.NoError(t, err)
		require.Nil(t, p, "round %d: progress marker left behind", round)
		require.NoFileExists(t, v.Path(LockHolderFile), "round %d: the last holder must remove its record", round)
	}
}

// A holder SIGKILLed mid-work keeps nothing locked: the kernel drops its
// flock, and the next holder removes its marker and partial data and reports
// what it recovered.
func TestKilledHolderIsRecovered(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	child := startHelper(t, roleHang, root, "dying/3")
	require.Equal(t, "ready", child.Next(t))

	v, err := OpenVolume(root)
	require.NoError(t, err)
	_, err = v.TryLock(Holder{Unit: "next/0"})
	var locked *LockedError
	require.ErrorAs(t, err, &locked, "the live child holds the lock")
	requireLocked(t, err)
	require.NotNil(t, locked.Holder)
	assert.Equal(t, "dying/3", locked.Holder.Unit)
	assert.Equal(t, child.Pid(), locked.Holder.PID)
	require.NotNil(t, locked.Progress)
	assert.Equal(t, ver("2.0.0"), locked.Progress.Version)
	assert.False(t, locked.Stuck)
	assert.Contains(t, err.Error(), "dying/3")

	require.NoError(t, child.Cmd.Process.Signal(syscall.SIGKILL))
	err = child.Wait()
	var exit interface{ Sys() any }
	require.ErrorAs(t, err, &exit)
	require.Equal(t, syscall.SIGKILL, exit.Sys().(syscall.WaitStatus).Signal())

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l, err := v.Lock(ctx, Holder{Unit: "next/0"})
	require.NoError(t, err, "the kernel must have dropped the dead holder's lock")
	defer l.Release()

	rec := l.Recovered()
	require.NotNil(t, rec, "the dead holder's marker must be reported")
	assert.Equal(t, "dying/3", rec.Unit)
	assert.Equal(t, child.Pid(), rec.PID)
	assert.Equal(t, ver("2.0.0"), rec.Version)

	assert.NoFileExists(t, v.Path(ProgressFile))
	assert.NoDirExists(t, v.Path(ReleasesDir, "2.0.0"+PartialInfix+"dead"))
	assert.NoFileExists(t, v.Path(InstalledVersionFile+TempInfix+"dead"))
	assert.ElementsMatch(t, []string{
		v.Path(ProgressFile),
		v.Path(ReleasesDir, "2.0.0"+PartialInfix+"dead"),
		v.Path(InstalledVersionFile + TempInfix + "dead"),
	}, l.Removed())

	h, err := v.Holder()
	require.NoError(t, err)
	require.NotNil(t, h)
	assert.Equal(t, "next/0", h.Unit, "the new holder's record replaces the dead one's")
	assert.Equal(t, os.Getpid(), h.PID)
	require.NoError(t, l.Release())
	h, err = v.Holder()
	require.NoError(t, err)
	assert.Nil(t, h)
}
