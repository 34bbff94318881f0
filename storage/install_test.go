package storage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/concourse-ci-machine/concourse-ci-machine/fsm"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/fsutil"
	"github.com/concourse-ci-machine/concourse-ci-machine/storage/releasetest"
)

// deadlockGuard bounds tests that wait on other goroutines or processes; it
// is never what a test measures.
const deadlockGuard = 2 * time.Minute

// recorder collects what an Installer reports. It is safe for concurrent use.
type recorder struct {
	mu     sync.Mutex
	steps  []fsm.InstallStep
	status []string
	logs   []string
}

func (r *recorder) step(s fsm.InstallStep) { r.mu.Lock(); r.steps = append(r.steps, s); r.mu.Unlock() }
func (r *recorder) stat(m string)          { r.mu.Lock(); r.status = append(r.status, m); r.mu.Unlock() }
func (r *recorder) logf(f string, a ...any) {
	r.mu.Lock()
	r.logs = append(r.logs, fmt.Sprintf(f, a...))
	r.mu.Unlock()
}

func (r *recorder) events() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, s := range r.steps {
		out = append(out, s.Event)
	}
	return out
}

func (r *recorder) statuses() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.status...)
}

// installOpts are fast test options reporting into rec.
func installOpts(unit, baseURL string, rec *recorder) InstallOptions {
	return InstallOptions{
		Unit:          unit,
		BaseURL:       baseURL,
		Activate:      true,
		WaitIntervals: []time.Duration{time.Millisecond, 2 * time.Millisecond, 4 * time.Millisecond},
		Fetch:         testFetchOptions(&fakeWaits{}),
		OnStep:        rec.step,
		OnStatus:      rec.stat,
		Logf:          rec.logf,
	}
}

// assertNoPartials checks that releases/ holds only complete releases.
func assertNoPartials(t *testing.T, v *Volume) {
	t.Helper()
	entries, err := os.ReadDir(v.Path(ReleasesDir))
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	require.NoError(t, err)
	for _, e := range entries {
		assert.False(t, isUnfinishedName(e.Name()), "left behind: %s", e.Name())
	}
}

func assertCurrent(t *testing.T, v *Volume, version string) {
	t.Helper()
	cur, err := v.CurrentVersion()
	require.NoError(t, err)
	assert.Equal(t, version, cur, "current")
	iv, err := v.ReadInstalledVersion()
	require.NoError(t, err)
	if version == "" {
		assert.Nil(t, iv)
		return
	}
	require.NotNil(t, iv)
	assert.Equal(t, version, iv.Version, "installed version")
}

func TestInstallDownloadsVerifiesAndActivates(t *testing.T) {
	t.Parallel()
	tarball := releasetest.Tarball("7.14.3")
	srv := releasetest.NewServer()
	t.Cleanup(srv.Close)
	srv.AddRelease("7.14.3", tarball)
	v := testVolume(t)
	rec := &recorder{}

	res, err := NewInstaller(v, installOpts("concourse/0", srv.BaseURL(), rec)).Install(context.Background(), "7.14.3")
	require.NoError(t, err)
	assert.True(t, res.Downloaded)
	assert.True(t, res.Activated)
	assert.Equal(t, fsm.InstallInstalled, res.State)
	assert.Equal(t, "sha1:"+releasetest.SHA1Hex(tarball), res.Checksum)
	assert.Equal(t, []string{fsm.InstallLockAcquired, fsm.InstallDownloaded, fsm.InstallVerified}, rec.events())
	assertCurrent(t, v, "7.14.3")
	assertNoPartials(t, v)
	p, err := v.ReadProgress()
	require.NoError(t, err)
	assert.Nil(t, p, "the progress marker is cleared")
	info, err := v.ReadReleaseInfo("7.14.3")
	require.NoError(t, err)
	assert.Equal(t, "concourse/0", info.Unit)
	assert.Equal(t, srv.TarballURL("7.14.3"), info.Source)
	out, err := os.ReadFile(filepath.Join(v.Path(CurrentLink), ReleaseBinary))
	require.NoError(t, err)
	assert.Equal(t, releasetest.Script("7.14.3"), string(out), "current resolves to the release")
	assert.Contains(t, rec.statuses(), "Verifying Concourse 7.14.3")
	assert.Contains(t, rec.statuses(), "Concourse 7.14.3 installed")

	// A second install is the double-check's hit: no download at all.
	rec2 := &recorder{}
	res, err = NewInstaller(v, installOpts("concourse/1", srv.BaseURL(), rec2)).Install(context.Background(), "7.14.3")
	require.NoError(t, err)
	assert.False(t, res.Downloaded)
	assert.Equal(t, []string{fsm.InstallFoundInstalled}, rec2.events())
	assert.Equal(t, 1, srv.Hits(releasetest.ReleasePath("7.14.3")))
	assert.Equal(t, 1, srv.Hits(releasetest.SidecarPath("7.14.3")))
}

// TestInstallConcurrentGoroutines races six installers (each with its own
// Volume handle, so each flock is a separate open file) for one release.
// The first download is held at the server until the five others have
// reported waiting, so the contention is certain, not a matter of timing.
func TestInstallConcurrentGoroutines(t *testing.T) {
	t.Parallel()
	const units = 6
	srv := releasetest.NewServer()
	t.Cleanup(srv.Close)
	srv.AddRelease("7.14.3", releasetest.Tarball("7.14.3"))
	release := make(chan struct{})
	srv.InjectFault(releasetest.ReleasePath("7.14.3"), releasetest.Fault{Kind: releasetest.FaultHold, Release: release})
	root := t.TempDir()

	ctx, cancel := context.WithTimeout(context.Background(), deadlockGuard)
	defer cancel()
	waiting := make(chan string, units*64)
	results := make([]*InstallResult, units)
	errs := make([]error, units)
	recs := make([]*recorder, units)
	var wg sync.WaitGroup
	for i := range units {
		v, err := OpenVolume(root)
		require.NoError(t, err)
		recs[i] = &recorder{}
		opts := installOpts(fmt.Sprintf("concourse/%d", i), srv.BaseURL(), recs[i])
		unit := opts.Unit
		opts.OnStep = func(s fsm.InstallStep) {
			recs[i].step(s)
			if s.Event == fsm.InstallLockBusy && s.From == fsm.InstallAbsent {
				waiting <- unit
			}
		}
		wg.Go(func() { results[i], errs[i] = NewInstaller(v, opts).Install(ctx, "7.14.3") })
	}
	for range units - 1 {
		select {
		case <-waiting:
		case <-ctx.Done():
			t.Fatal("the other units never reported waiting")
		}
	}
	close(release)
	wg.Wait()

	downloader := -1
	for i := range units {
		if errs[i] == nil && results[i].Downloaded {
			downloader = i
		}
	}
	require.NotEqual(t, -1, downloader, "some unit downloads")
	downloaded := 0
	for i := range units {
		require.NoError(t, errs[i], "unit %d", i)
		assert.Equal(t, fsm.InstallInstalled, results[i].State)
		if results[i].Downloaded {
			downloaded++
			assert.Equal(t, []string{fsm.InstallLockAcquired, fsm.InstallDownloaded, fsm.InstallVerified}, recs[i].events())
			continue
		}
		ev := recs[i].events()
		assert.Equal(t, fsm.InstallFoundInstalled, ev[len(ev)-1], "unit %d", i)
		for _, e := range ev[:len(ev)-1] {
			assert.Equal(t, fsm.InstallLockBusy, e)
		}
		// Right after the downloader takes the lock its progress marker
		// may not be written yet: then the holder record names it.
		first := recs[i].statuses()[0]
		assert.True(t, strings.HasPrefix(first, "Waiting for Concourse 7.14.3 ("), first)
		assert.Contains(t, first, fmt.Sprintf("concourse/%d for ", downloader))
	}
	assert.Equal(t, 1, downloaded, "exactly one unit downloads")
	assert.Equal(t, 1, srv.Hits(releasetest.ReleasePath("7.14.3")), "exactly one download")
	v, err := OpenVolume(root)
	require.NoError(t, err)
	assertCurrent(t, v, "7.14.3")
	assertNoPartials(t, v)
}

// TestInstallWaitsWithBackoffAndReports holds the lock as a downloading unit
// would and checks the waiting unit's status line and backoff.
func TestInstallWaitsWithBackoffAndReports(t *testing.T) {
	t.Parallel()
	srv := releasetest.NewServer()
	t.Cleanup(srv.Close)
	srv.AddRelease("7.14.3", releasetest.Tarball("7.14.3"))
	root := t.TempDir()
	started := testEpoch
	holderVol, err := OpenVolume(root, clockAt(started))
	require.NoError(t, err)
	held, err := holderVol.TryLock(Holder{Unit: "concourse/0"})
	require.NoError(t, err)
	require.NoError(t, held.WriteProgress(Progress{Version: "7.14.3"}))

	v, err := OpenVolume(root, clockAt(started.Add(42*time.Second)))
	require.NoError(t, err)
	rec := &recorder{}
	opts := installOpts("concourse/1", srv.BaseURL(), rec)
	opts.WaitIntervals = nil // the defaults: 5 s, 10 s, then 20 s
	var slept []time.Duration
	opts.Sleep = func(ctx context.Context, d time.Duration) error {
		slept = append(slept, d)
		if len(slept) == 4 { // the downloader finishes while we sleep
			require.NoError(t, held.ClearProgress())
			require.NoError(t, held.Release())
		}
		return nil
	}
	res, err := NewInstaller(v, opts).Install(context.Background(), "7.14.3")
	require.NoError(t, err)
	assert.Equal(t, []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 20 * time.Second}, slept)
	assert.Equal(t, "Waiting for Concourse 7.14.3 (downloading on concourse/0 for 42s)", rec.statuses()[0])
	assert.Equal(t, []string{fsm.InstallLockBusy, fsm.InstallLockBusy, fsm.InstallLockBusy, fsm.InstallLockBusy,
		fsm.InstallLockAcquired, fsm.InstallDownloaded, fsm.InstallVerified}, rec.events())
	assert.True(t, res.Downloaded, "the holder left without installing, so this unit downloads")
}

// TestInstallNamesAHolderThatHasJustTakenTheLock: a holder that names
// itself a moment after taking the lock is named in the first status; one
// that never can (its record could not be written) is reported unnamed.
func TestInstallNamesAHolderThatHasJustTakenTheLock(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		namesItself bool
		want        string
	}{
		{"names itself late", true, "Waiting for Concourse 7.14.3 (volume locked by concourse/0 for 0s)"},
		{"never names itself", false, "Waiting for Concourse 7.14.3 (volume locked)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := releasetest.NewServer()
			t.Cleanup(srv.Close)
			srv.AddRelease("7.14.3", releasetest.Tarball("7.14.3"))
			root := t.TempDir()
			holderVol, err := OpenVolume(root, clockAt(testEpoch))
			require.NoError(t, err)
			held, err := holderVol.TryLock(Holder{Unit: "concourse/0"})
			require.NoError(t, err)
			// As it is just after flock, before the record is written.
			record, err := os.ReadFile(holderVol.Path(LockHolderFile))
			require.NoError(t, err)
			require.NoError(t, os.Remove(holderVol.Path(LockHolderFile)))
			if tc.namesItself {
				go func() {
					time.Sleep(2 * holderGrace) // the holder's fsync, slowed down
					_ = fsutil.WriteFile(holderVol.Path(LockHolderFile), record, 0o644)
				}()
			}

			v, err := OpenVolume(root, clockAt(testEpoch))
			require.NoError(t, err)
			rec := &recorder{}
			opts := installOpts("concourse/1", srv.BaseURL(), rec)
			opts.Sleep = func(context.Context, time.Duration) error {
				require.NoError(t, held.Release())
				return nil
			}
			_, err = NewInstaller(v, opts).Install(context.Background(), "7.14.3")
			require.NoError(t, err)
			assert.Equal(t, tc.want, rec.statuses()[0])
		})
	}
}

// TestInstallReportsStuckHolderAndNeverStealsTheLock: a live holder whose
// marker is older than StuckAfter is reported, and the lock stays its.
func TestInstallReportsStuckHolderAndNeverStealsTheLock(t *testing.T) {
	t.Parallel()
	srv := releasetest.NewServer()
	t.Cleanup(srv.Close)
	srv.AddRelease("7.14.3", releasetest.Tarball("7.14.3"))
	root := t.TempDir()
	holderVol, err := OpenVolume(root, clockAt(testEpoch))
	require.NoError(t, err)
	held, err := holderVol.TryLock(Holder{Unit: "concourse/0"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = held.Release() })
	require.NoError(t, held.WriteProgress(Progress{Version: "7.14.3"}))

	v, err := OpenVolume(root, clockAt(testEpoch.Add(StuckAfter+time.Minute)))
	require.NoError(t, err)
	rec := &recorder{}
	opts := installOpts("concourse/1", srv.BaseURL(), rec)
	ctx, cancel := context.WithCancel(context.Background())
	sleeps := 0
	opts.Sleep = func(ctx context.Context, d time.Duration) error {
		if sleeps++; sleeps == 3 {
			cancel() // the hook gives up
		}
		return ctx.Err()
	}
	res, err := NewInstaller(v, opts).Install(ctx, "7.14.3")
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorIs(t, err, ErrLocked)
	assert.Equal(t, fsm.InstallFailed, res.State)
	status := rec.statuses()[0]
	assert.Contains(t, status, "Waiting for Concourse 7.14.3: ")
	assert.Contains(t, status, "STUCK")
	assert.Contains(t, status, "kill that process")
	assert.NotEmpty(t, rec.logs, "the stuck holder is logged")
	assert.Zero(t, srv.Hits(releasetest.ReleasePath("7.14.3")))
	// The holder still holds it: its writers work and nobody else gets in.
	require.NoError(t, held.WriteProgress(Progress{Version: "7.14.3"}))
	_, err = v.TryLock(Holder{Unit: "concourse/2"})
	require.ErrorIs(t, err, ErrLocked)
}

func TestInstallStagesThenActivates(t *testing.T) {
	t.Parallel()
	srv := releasetest.NewServer()
	t.Cleanup(srv.Close)
	for _, ver := range []string{"7.14.2", "7.14.3"} {
		srv.AddRelease(ver, releasetest.Tarball(ver))
	}
	v := testVolume(t)
	rec := &recorder{}
	_, err := NewInstaller(v, installOpts("concourse/0", srv.BaseURL(), rec)).Install(context.Background(), "7.14.2")
	require.NoError(t, err)

	opts := installOpts("concourse/0", srv.BaseURL(), rec)
	opts.Activate = false
	in := NewInstaller(v, opts)
	res, err := in.Install(context.Background(), "7.14.3")
	require.NoError(t, err)
	assert.False(t, res.Activated)
	assertCurrent(t, v, "7.14.2")
	_, err = v.ReadReleaseInfo("7.14.3")
	require.NoError(t, err, "staged under releases/7.14.3")

	require.NoError(t, in.Activate(context.Background(), "7.14.3"))
	assertCurrent(t, v, "7.14.3")
	iv, err := v.ReadInstalledVersion()
	require.NoError(t, err)
	assert.Equal(t, res.Checksum, iv.Checksum)

	err = in.Activate(context.Background(), "9.9.9")
	require.ErrorIs(t, err, ErrReleaseNotStaged)
	assertCurrent(t, v, "7.14.3")
}

func TestInstallFailuresLeaveCurrentAlone(t *testing.T) {
	t.Parallel()
	good := releasetest.Tarball("7.14.3")
	liar, err := releasetest.Build(releasetest.Spec{Version: "7.14.3", VersionOutput: "6.0.0"})
	require.NoError(t, err)
	noBinary, err := releasetest.Build(releasetest.Spec{Version: "7.14.3", OmitBinary: true})
	require.NoError(t, err)
	tests := []struct {
		name    string
		setup   func(srv *releasetest.Server)
		wantErr error
	}{
		{"checksum mismatch", func(srv *releasetest.Server) {
			srv.SetFile(releasetest.SidecarPath("7.14.3"), releasetest.Sidecar(releasetest.Tarball("1.0.0"), "x"))
		}, ErrChecksumMismatch},
		{"binary reports another version", func(srv *releasetest.Server) { srv.AddRelease("7.14.3", liar) }, ErrBadRelease},
		{"binary missing", func(srv *releasetest.Server) { srv.AddRelease("7.14.3", noBinary) }, ErrBadRelease},
		{"no checksum", func(srv *releasetest.Server) { srv.RemoveFile(releasetest.SidecarPath("7.14.3")) }, ErrNoChecksum},
		{"not published", func(srv *releasetest.Server) { srv.RemoveFile(releasetest.ReleasePath("7.14.3")) }, ErrReleaseNotFound},
		{"dropped every time", func(srv *releasetest.Server) {
			for range 3 {
				srv.InjectFault(releasetest.ReleasePath("7.14.3"), releasetest.Fault{Kind: releasetest.FaultDrop, After: int64(len(good) / 2)})
			}
		}, ErrDownload},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := releasetest.NewServer()
			t.Cleanup(srv.Close)
			srv.AddRelease("1.0.0", releasetest.Tarball("1.0.0"))
			srv.AddRelease("7.14.3", good)
			v := testVolume(t)
			_, err := NewInstaller(v, installOpts("concourse/0", srv.BaseURL(), &recorder{})).Install(context.Background(), "1.0.0")
			require.NoError(t, err)
			tt.setup(srv)

			rec := &recorder{}
			res, err := NewInstaller(v, installOpts("concourse/0", srv.BaseURL(), rec)).Install(context.Background(), "7.14.3")
			require.ErrorIs(t, err, tt.wantErr)
			assert.Equal(t, fsm.InstallFailed, res.State)
			ev := rec.events()
			assert.Equal(t, fsm.InstallFail, ev[len(ev)-1])
			assertCurrent(t, v, "1.0.0")
			assertNoPartials(t, v)
			_, err = os.Stat(v.ReleaseDir("7.14.3"))
			assert.ErrorIs(t, err, os.ErrNotExist)
			p, err := v.ReadProgress()
			require.NoError(t, err)
			assert.Nil(t, p)
			st := rec.statuses()
			assert.True(t, strings.HasPrefix(st[len(st)-1], "Installing Concourse 7.14.3 failed: "), st[len(st)-1])
		})
	}
}

func TestInstallRetriesAfterTruncationFromScratch(t *testing.T) {
	t.Parallel()
	tarball, err := releasetest.Build(releasetest.Spec{Version: "7.14.3", Padding: 512 << 10})
	require.NoError(t, err)
	srv := releasetest.NewServer()
	t.Cleanup(srv.Close)
	srv.AddRelease("7.14.3", tarball)
	srv.InjectFault(releasetest.ReleasePath("7.14.3"), releasetest.Fault{Kind: releasetest.FaultTruncate, After: int64(len(tarball) * 3 / 4)})
	v := testVolume(t)
	rec := &recorder{}
	res, err := NewInstaller(v, installOpts("concourse/0", srv.BaseURL(), rec)).Install(context.Background(), "7.14.3")
	require.NoError(t, err)
	assert.True(t, res.Downloaded)
	assert.Equal(t, 2, srv.Hits(releasetest.ReleasePath("7.14.3")))
	assertNoPartials(t, v)
	assertCurrent(t, v, "7.14.3")
	padding, err := os.ReadFile(filepath.Join(v.ReleaseDir("7.14.3"), releasetest.PaddingPath))
	require.NoError(t, err)
	assert.Len(t, padding, 512<<10)
}

func TestInstallFromLocalFilePinned(t *testing.T) {
	t.Parallel()
	tarball := releasetest.Tarball("7.14.3")
	resource := filepath.Join(t.TempDir(), "concourse.tgz")
	require.NoError(t, os.WriteFile(resource, tarball, 0o644))
	v := testVolume(t)
	opts := installOpts("concourse/0", "", &recorder{})
	opts.Source = FileSource(resource)
	opts.SHA256 = releasetest.SHA256Hex(tarball)
	res, err := NewInstaller(v, opts).Install(context.Background(), "7.14.3")
	require.NoError(t, err)
	assert.Equal(t, "sha256:"+releasetest.SHA256Hex(tarball), res.Checksum)
	assertCurrent(t, v, "7.14.3")
}

func TestInstallRefusesBadVersion(t *testing.T) {
	t.Parallel()
	v := testVolume(t)
	res, err := NewInstaller(v, InstallOptions{}).Install(context.Background(), "../etc")
	require.ErrorIs(t, err, ErrInvalidValue)
	assert.Equal(t, fsm.InstallFailed, res.State)
}

func TestWaitingStatus(t *testing.T) {
	t.Parallel()
	at := testEpoch
	tests := []struct {
		name   string
		locked LockedError
		want   string
	}{
		{"downloading the same version",
			LockedError{At: at, Progress: &Progress{Unit: "concourse/0", Version: "7.14.3", Started: at.Add(-42 * time.Second)}},
			"Waiting for Concourse 7.14.3 (downloading on concourse/0 for 42s)"},
		{"installing another version",
			LockedError{At: at, Progress: &Progress{Unit: "concourse/2", Version: "7.14.2", Started: at.Add(-3 * time.Minute)}},
			"Waiting for Concourse 7.14.3 (concourse/2 is installing 7.14.2 for 3m0s)"},
		{"locked without a marker",
			LockedError{At: at, Holder: &Holder{Unit: "concourse/1", Since: at.Add(-5 * time.Second)}},
			"Waiting for Concourse 7.14.3 (volume locked by concourse/1 for 5s)"},
		{"nothing known", LockedError{At: at}, "Waiting for Concourse 7.14.3 (volume locked)"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, WaitingStatus("7.14.3", &tt.locked), tt.name)
	}
}
