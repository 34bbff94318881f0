package installer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/childtest"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/version"
	"github.com/concourse-ci-machine/concourse-ci-machine/storage"
	"github.com/concourse-ci-machine/concourse-ci-machine/storage/releasetest"
)

// TestHelperProcessInstaller is not a test: it is the body of the child
// processes below. Run normally it returns at once. Arguments after "--":
// ROOT UNIT BASEURL VERSION. It prints "waiting" on its first waiting status,
// "result downloaded|found" at the end, then "peak-rss <bytes>", its own
// peak resident set (VmHWM).
func TestHelperProcessInstaller(t *testing.T) {
	role, args := childtest.Role()
	if role == "" {
		return
	}
	if err := runInstallerChild(args); err != nil {
		fmt.Fprintf(os.Stderr, "installer child: %v\n", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func runInstallerChild(args []string) error {
	if len(args) != 4 {
		return fmt.Errorf("want ROOT UNIT BASEURL VERSION, got %q", args)
	}
	root, unit, baseURL := args[0], args[1], args[2]
	v, err := storage.OpenVolume(root)
	if err != nil {
		return err
	}
	release, err := version.Parse(args[3])
	if err != nil {
		return err
	}
	said := false
	opts := Options{
		Unit: unit, FetchSpec: storage.FetchSpec{BaseURL: baseURL},
		OnStatus: func(s string) {
			if strings.HasPrefix(s, "Waiting") && !said {
				said = true
				fmt.Println("waiting")
			}
		},
		Logf: func(f string, a ...any) { fmt.Fprintf(os.Stderr, unit+": "+f+"\n", a...) },
	}
	ctx, cancel := context.WithTimeout(context.Background(), deadlockGuard)
	defer cancel()
	res, err := New(v, opts).Install(ctx, release)
	if err != nil {
		return err
	}
	if res.Downloaded {
		fmt.Println("result downloaded")
	} else {
		fmt.Println("result found")
	}
	peak, err := peakRSS()
	if err != nil {
		return err
	}
	fmt.Println("peak-rss", peak)
	return nil
}

// peakRSS is this process's peak resident set in bytes: VmHWM, the high
// water mark of its own memory map. (Rusage's Maxrss would not do: it keeps
// the parent's peak across the fork and exec that started this process, as
// Go forks sharing the parent's memory map.)
func peakRSS() (int64, error) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		if kib, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(kib, "kB")), 10, 64)
			return n << 10, err
		}
	}
	return 0, errors.New("no VmHWM in /proc/self/status")
}

// startInstallerChild starts a child unit that installs version.
func startInstallerChild(t testing.TB, root, unit, baseURL, version string) *childtest.Child {
	t.Helper()
	return childtest.Start(t, "TestHelperProcessInstaller", "install", root, unit, baseURL, version)
}

// TestInstallConcurrentProcesses: six OS processes install one release on
// one volume; the first download is held until the five others said they
// wait. Exactly one downloads, all end installed.
func TestInstallConcurrentProcesses(t *testing.T) {
	t.Parallel()
	const units = 6
	srv := releasetest.NewTestServer(t, "7.14.3")
	release := make(chan struct{})
	srv.InjectFault(releasetest.ReleasePath("7.14.3"), releasetest.Fault{Kind: releasetest.FaultHold, Release: release})
	root := t.TempDir()
	openVolume(t, root)

	children := make([]*childtest.Child, units)
	for i := range units {
		children[i] = startInstallerChild(t, root, fmt.Sprintf("concourse/%d", i), srv.BaseURL(), "7.14.3")
	}
	// Every child but the downloader says "waiting" first; the downloader
	// says nothing until released. Read the first line of each concurrently.
	type firstLine struct {
		child int
		line  string
	}
	first := make(chan firstLine, units)
	for i, c := range children {
		go func() { first <- firstLine{i, <-c.Lines()} }()
	}
	guard := time.After(deadlockGuard)
	waiters := map[int]bool{}
	for range units - 1 {
		select {
		case fl := <-first:
			require.Equal(t, "waiting", fl.line, "child %d must wait while the download is held", fl.child)
			waiters[fl.child] = true
		case <-guard:
			t.Fatal("the children never reported waiting")
		}
	}
	close(release)
	var downloaderLine firstLine
	select {
	case downloaderLine = <-first:
	case <-guard:
		t.Fatal("the downloader never finished")
	}
	assert.False(t, waiters[downloaderLine.child])
	assert.Equal(t, "result downloaded", downloaderLine.line)

	for i, c := range children {
		if waiters[i] {
			assert.Equal(t, "result found", c.Next(t), "child %d", i)
		}
		require.NoError(t, c.Wait(), "child %d", i)
	}
	assertInstalledOnce(t, srv, root, "7.14.3")
}

// TestInstallRecoversAfterDownloaderIsKilled: a child downloads, the server
// stalls mid-body until the parent has SIGKILLed it, and the next unit finds
// the dead holder's marker, cleans up and installs.
func TestInstallRecoversAfterDownloaderIsKilled(t *testing.T) {
	t.Parallel()
	tarball, err := releasetest.Build(releasetest.Spec{Version: "7.14.3", Padding: 1 << 20})
	require.NoError(t, err)
	srv := releasetest.NewTestServer(t)
	srv.AddRelease("7.14.3", tarball)
	reached := make(chan struct{})
	srv.InjectFault(releasetest.ReleasePath("7.14.3"), releasetest.Fault{Kind: releasetest.FaultStall, After: int64(len(tarball) / 2), Reached: reached})
	root := t.TempDir()
	v := openVolume(t, root)

	child := startInstallerChild(t, root, "concourse/0", srv.BaseURL(), "7.14.3")
	select {
	case <-reached:
	case <-time.After(deadlockGuard):
		t.Fatal("the child never started downloading")
	}
	// The child is mid-download: its marker and partial directory exist.
	p, err := v.ReadProgress()
	require.NoError(t, err)
	require.NotNil(t, p)
	assert.Equal(t, child.Pid(), p.PID)
	require.NoError(t, child.Cmd.Process.Signal(syscall.SIGKILL))
	err = child.Wait()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	assert.Equal(t, syscall.SIGKILL, exit.Sys().(syscall.WaitStatus).Signal())

	rec := &recorder{}
	res, err := New(v, testOpts("concourse/1", srv.BaseURL(), rec)).Install(context.Background(), ver("7.14.3"))
	require.NoError(t, err)
	require.NotNil(t, res.Recovered, "the dead downloader's marker was found")
	assert.Equal(t, "concourse/0", res.Recovered.Unit)
	assert.True(t, res.Downloaded)
	assert.True(t, rec.logged("the install of 7.14.3 by concourse/0"), "the recovery is logged: %q", rec.logs)
	assert.True(t, rec.logged("died; removed"), "the recovery is logged: %q", rec.logs)
	assert.Equal(t, 2, srv.Hits(releasetest.ReleasePath("7.14.3")))
	assertCurrent(t, v, "7.14.3")
	assertNoPartials(t, v)
}
