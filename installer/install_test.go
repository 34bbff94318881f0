package installer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/concourse-ci-machine/concourse-ci-machine/fsm"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/fsutil"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/version"
	"github.com/concourse-ci-machine/concourse-ci-machine/storage"
	"github.com/concourse-ci-machine/concourse-ci-machine/storage/releasetest"
)

func TestInstallDownloadsVerifiesAndActivates(t *testing.T) {
	t.Parallel()
	tarball := releasetest.Tarball("7.14.3")
	srv := releasetest.NewTestServer(t)
	srv.AddRelease("7.14.3", tarball)
	v := openVolume(t, t.TempDir())
	rec := &recorder{}

	res, err := New(v, testOpts("concourse/0", srv.BaseURL(), rec)).Install(context.Background(), ver("7.14.3"))
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
	info, err := v.ReadReleaseInfo(ver("7.14.3"))
	require.NoError(t, err)
	assert.Equal(t, "concourse/0", info.Unit)
	assert.Equal(t, srv.TarballURL("7.14.3"), info.Source)
	assert.Positive(t, info.UnpackedBytes)
	fence, err := v.CurrentFence()
	require.NoError(t, err)
	assert.Equal(t, storage.Fence{Version: ver("7.14.3"), Revision: 0, Unit: "concourse/0", At: fence.At}, fence)
	out, err := os.ReadFile(filepath.Join(v.Path(storage.CurrentLink), storage.ReleaseBinary))
	require.NoError(t, err)
	assert.Equal(t, releasetest.Script("7.14.3"), string(out), "current resolves to the release")
	assert.Contains(t, rec.statuses(), "Verifying Concourse 7.14.3")
	assert.Contains(t, rec.statuses(), "Concourse 7.14.3 installed")
	for _, s := range rec.statuses() {
		assert.LessOrEqual(t, len(s), 120, "a status line fits Juju's: %q", s)
	}

	// A second install is the double-check's hit: no download at all.
	rec2 := &recorder{}
	res, err = New(v, testOpts("concourse/1", srv.BaseURL(), rec2)).Install(context.Background(), ver("7.14.3"))
	require.NoError(t, err)
	assert.False(t, res.Downloaded)
	assert.True(t, res.Activated)
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
	srv := releasetest.NewTestServer(t, "7.14.3")
	release := make(chan struct{})
	srv.InjectFault(releasetest.ReleasePath("7.14.3"), releasetest.Fault{Kind: releasetest.FaultHold, Release: release})
	root := t.TempDir()

	ctx, cancel := context.WithTimeout(context.Background(), deadlockGuard)
	defer cancel()
	waiting := make(chan string, units)
	results := make([]*Result, units)
	errs := make([]error, units)
	recs := make([]*recorder, units)
	var wg sync.WaitGroup
	for i := range units {
		v := openVolume(t, root)
		recs[i] = &recorder{}
		opts := testOpts(fmt.Sprintf("concourse/%d", i), srv.BaseURL(), recs[i])
		var once sync.Once
		opts.OnStatus = func(s string) {
			recs[i].stat(s)
			if strings.HasPrefix(s, "Waiting for") {
				once.Do(func() { waiting <- opts.Unit })
			}
		}
		wg.Go(func() { results[i], errs[i] = New(v, opts).Install(ctx, ver("7.14.3")) })
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
		require.NoError(t, errs[i], "unit %d", i)
		if results[i].Downloaded {
			require.Equal(t, -1, downloader, "exactly one unit downloads")
			downloader = i
		}
	}
	require.NotEqual(t, -1, downloader, "some unit downloads")
	for i := range units {
		assert.Equal(t, fsm.InstallInstalled, results[i].State)
		if i == downloader {
			assert.Equal(t, []string{fsm.InstallLockAcquired, fsm.InstallDownloaded, fsm.InstallVerified}, recs[i].events())
			continue
		}
		assert.Equal(t, []string{fsm.InstallLockBusy, fsm.InstallFoundInstalled}, recs[i].events(), "unit %d", i)
		// Right after the downloader takes the lock its progress marker may
		// not be written yet: then its holder record names it.
		first := recs[i].statuses()[0]
		assert.True(t, strings.HasPrefix(first, "Waiting for Concourse 7.14.3 ("), first)
		assert.Contains(t, first, fmt.Sprintf("concourse/%d for 0s)", downloader))
	}
	assertInstalledOnce(t, srv, root, "7.14.3")
}

// A unit waiting for a downloader reports who downloads and since when; when
// the downloader goes away without installing, the waiter downloads.
func TestInstallWaitsAndReportsTheHolder(t *testing.T) {
	t.Parallel()
	srv := releasetest.NewTestServer(t, "7.14.3")
	root := t.TempDir()
	held := holdInstalling(t, root, "concourse/0", testEpoch, "7.14.3")

	v := openVolume(t, root, storage.WithClock(func() time.Time { return testEpoch.Add(42 * time.Second) }))
	rec := &recorder{}
	opts := testOpts("concourse/1", srv.BaseURL(), rec)
	opts.OnStatus = func(s string) {
		rec.stat(s)
		if strings.HasPrefix(s, "Waiting") { // the downloader gives up
			require.NoError(t, held.ClearProgress())
			require.NoError(t, held.Release())
		}
	}
	res, err := New(v, opts).Install(context.Background(), ver("7.14.3"))
	require.NoError(t, err)
	assert.Equal(t, "Waiting for Concourse 7.14.3 (downloading on concourse/0 for 42s)", rec.statuses()[0])
	assert.Equal(t, []string{fsm.InstallLockBusy, fsm.InstallLockAcquired, fsm.InstallDownloaded, fsm.InstallVerified}, rec.events())
	assert.True(t, res.Downloaded, "the holder left without installing, so this unit downloads")
}

// A holder that names itself a moment after taking the lock is named in the
// first status; one that never can (its record could not be written) is
// reported unnamed.
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
			srv := releasetest.NewTestServer(t, "7.14.3")
			root := t.TempDir()
			holderVol := openVolume(t, root, storage.WithClock(func() time.Time { return testEpoch }))
			held, err := holderVol.TryLock(storage.Holder{Unit: "concourse/0"})
			require.NoError(t, err)
			// As it is just after flock, before the record is written.
			record, err := os.ReadFile(holderVol.Path(storage.LockHolderFile))
			require.NoError(t, err)
			require.NoError(t, os.Remove(holderVol.Path(storage.LockHolderFile)))

			v := openVolume(t, root, storage.WithClock(func() time.Time { return testEpoch }))
			rec := &recorder{}
			opts := testOpts("concourse/1", srv.BaseURL(), rec)
			// The waiter's clock: a holder that names itself does so when
			// the waiter first finds it unnamed, and no time passes, so its
			// grace never ends; one that never does is given its grace in
			// two looks.
			var looks atomic.Int64
			opts.Now = func() time.Time {
				n := looks.Add(1)
				if !tc.namesItself {
					return testEpoch.Add(time.Duration(n) * holderGrace / 2)
				}
				if n == 1 {
					require.NoError(t, fsutil.WriteFile(holderVol.Path(storage.LockHolderFile), record, 0o644))
				}
				return testEpoch
			}
			opts.OnStatus = func(s string) {
				rec.stat(s)
				if strings.HasPrefix(s, "Waiting") {
					require.NoError(t, held.Release())
				}
			}
			_, err = New(v, opts).Install(context.Background(), ver("7.14.3"))
			require.NoError(t, err)
			assert.Equal(t, tc.want, rec.statuses()[0])
		})
	}
}

// A live holder whose marker is older than StuckAfter is reported, and the
// lock stays its.
func TestInstallReportsStuckHolderAndNeverStealsTheLock(t *testing.T) {
	t.Parallel()
	srv := releasetest.NewTestServer(t, "7.14.3")
	root := t.TempDir()
	held := holdInstalling(t, root, "concourse/0", testEpoch, "7.14.3")

	v := openVolume(t, root, storage.WithClock(func() time.Time { return testEpoch.Add(storage.StuckAfter + time.Minute) }))
	rec := &recorder{}
	opts := testOpts("concourse/1", srv.BaseURL(), rec)
	ctx, cancel := context.WithCancel(context.Background())
	opts.OnStatus = func(s string) {
		rec.stat(s)
		cancel() // the hook gives up
	}
	res, err := New(v, opts).Install(ctx, ver("7.14.3"))
	require.ErrorIs(t, err, context.Canceled)
	locked, ok := errors.AsType[*storage.LockedError](err)
	require.True(t, ok, "%v", err)
	assert.True(t, locked.Stuck)
	assert.Equal(t, fsm.InstallFailed, res.State)
	assert.Equal(t, "Waiting for Concourse 7.14.3 (downloading on concourse/0 for 11m0s, stuck)", rec.statuses()[0])
	assert.True(t, rec.logged("stuck: the install of 7.14.3 by concourse/0"), "the stuck holder is logged: %q", rec.logs)
	assert.Zero(t, srv.Hits(releasetest.ReleasePath("7.14.3")))
	// The holder still holds it: its writers work and nobody else gets in.
	require.NoError(t, held.WriteProgress(ver("7.14.3")))
	_, err = v.TryLock(storage.Holder{Unit: "concourse/2"})
	assert.True(t, isType[*storage.LockedError](err), "%v", err)
}

// Stage puts a release under releases/ and touches neither `current` nor the
// markers; Install then switches to it without a download, fenced at its
// revision.
func TestStageThenInstall(t *testing.T) {
	t.Parallel()
	srv := releasetest.NewTestServer(t, "7.14.2", "7.14.3")
	v := openVolume(t, t.TempDir())
	_, err := New(v, testOpts("concourse/0", srv.BaseURL(), &recorder{})).Install(context.Background(), ver("7.14.2"))
	require.NoError(t, err)

	rec := &recorder{}
	staged, err := New(v, testOpts("concourse/0", srv.BaseURL(), rec)).Stage(context.Background(), ver("7.14.3"))
	require.NoError(t, err)
	assert.True(t, staged.Downloaded)
	assert.False(t, staged.Activated)
	assert.Contains(t, rec.statuses(), "Concourse 7.14.3 staged")
	assertCurrent(t, v, "7.14.2")
	assert.True(t, v.IsStaged(ver("7.14.3")))

	// Staging again finds it in place, without the lock.
	rec = &recorder{}
	again, err := New(v, testOpts("concourse/1", srv.BaseURL(), rec)).Stage(context.Background(), ver("7.14.3"))
	require.NoError(t, err)
	assert.False(t, again.Downloaded)
	assert.Equal(t, []string{fsm.InstallFoundInstalled}, rec.events())

	opts := testOpts("concourse/0", srv.BaseURL(), &recorder{})
	opts.Revision = 4
	res, err := New(v, opts).Install(context.Background(), ver("7.14.3"))
	require.NoError(t, err)
	assert.False(t, res.Downloaded)
	assertCurrent(t, v, "7.14.3")
	iv, err := v.ReadInstalledVersion()
	require.NoError(t, err)
	assert.Equal(t, staged.Checksum, iv.Checksum)
	fence, err := v.CurrentFence()
	require.NoError(t, err)
	assert.Equal(t, uint64(4), fence.Revision)
	assert.Equal(t, 1, srv.Hits(releasetest.ReleasePath("7.14.3")))

	// An older decision cannot move `current` back.
	opts.Revision = 3
	_, err = New(v, opts).Install(context.Background(), ver("7.14.2"))
	stale, ok := errors.AsType[*storage.StaleSwitchError](err)
	require.True(t, ok, "%v", err)
	assert.Equal(t, uint64(4), stale.Have)
	assertCurrent(t, v, "7.14.3")

	// A release that cannot be had changes nothing.
	opts.Revision = 5
	_, err = New(v, opts).Install(context.Background(), ver("9.9.9"))
	assert.True(t, isType[*storage.NoChecksumError](err), "no sidecar for a release that is not published: %v", err)
	assertCurrent(t, v, "7.14.3")
	fence, err = v.CurrentFence()
	require.NoError(t, err)
	assert.Equal(t, uint64(4), fence.Revision, "the fence moves only with a switch")
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
		wantErr func(error) bool
	}{
		{"checksum mismatch", func(srv *releasetest.Server) {
			srv.SetFile(releasetest.SidecarPath("7.14.3"), releasetest.Sidecar(releasetest.Tarball("1.0.0"), "x"))
		}, isType[*storage.ChecksumMismatchError]},
		{"binary reports another version", func(srv *releasetest.Server) { srv.AddRelease("7.14.3", liar) }, isType[*storage.BadReleaseError]},
		{"binary missing", func(srv *releasetest.Server) { srv.AddRelease("7.14.3", noBinary) }, isType[*storage.BadReleaseError]},
		{"no checksum", func(srv *releasetest.Server) { srv.RemoveFile(releasetest.SidecarPath("7.14.3")) }, isType[*storage.NoChecksumError]},
		{"not published", func(srv *releasetest.Server) { srv.RemoveFile(releasetest.ReleasePath("7.14.3")) }, isType[*storage.HTTPStatusError]},
		{"dropped every time", func(srv *releasetest.Server) {
			for range 3 {
				srv.InjectFault(releasetest.ReleasePath("7.14.3"), releasetest.Fault{Kind: releasetest.FaultDrop, After: int64(len(good) / 2)})
			}
		}, isType[*storage.DownloadError]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := releasetest.NewTestServer(t, "1.0.0")
			srv.AddRelease("7.14.3", good)
			v := openVolume(t, t.TempDir())
			_, err := New(v, testOpts("concourse/0", srv.BaseURL(), &recorder{})).Install(context.Background(), ver("1.0.0"))
			require.NoError(t, err)
			tt.setup(srv)

			rec := &recorder{}
			res, err := New(v, testOpts("concourse/0", srv.BaseURL(), rec)).Install(context.Background(), ver("7.14.3"))
			require.True(t, tt.wantErr(err), "%v", err)
			assert.Equal(t, fsm.InstallFailed, res.State)
			ev := rec.events()
			assert.Equal(t, fsm.InstallFail, ev[len(ev)-1])
			assertCurrent(t, v, "1.0.0")
			assertNoPartials(t, v)
			_, err = os.Stat(v.ReleaseDir(ver("7.14.3")))
			assert.ErrorIs(t, err, os.ErrNotExist)
			p, err := v.ReadProgress()
			require.NoError(t, err)
			assert.Nil(t, p)
		})
	}
}

// A body cut short of its Content-Length is a transfer error: retried from
// scratch.
func TestInstallRetriesAfterTruncationFromScratch(t *testing.T) {
	t.Parallel()
	tarball, err := releasetest.Build(releasetest.Spec{Version: "7.14.3", Padding: 512 << 10})
	require.NoError(t, err)
	srv := releasetest.NewTestServer(t)
	srv.AddRelease("7.14.3", tarball)
	srv.InjectFault(releasetest.ReleasePath("7.14.3"), releasetest.Fault{Kind: releasetest.FaultTruncate, After: int64(len(tarball) * 3 / 4)})
	v := openVolume(t, t.TempDir())
	res, err := New(v, testOpts("concourse/0", srv.BaseURL(), &recorder{})).Install(context.Background(), ver("7.14.3"))
	require.NoError(t, err)
	assert.True(t, res.Downloaded)
	assert.Equal(t, 2, srv.Hits(releasetest.ReleasePath("7.14.3")))
	assertNoPartials(t, v)
	assertCurrent(t, v, "7.14.3")
	padding, err := os.ReadFile(filepath.Join(v.ReleaseDir(ver("7.14.3")), releasetest.PaddingPath))
	require.NoError(t, err)
	assert.Len(t, padding, 512<<10)
}

// A tarball that ends early without a Content-Length to say so (a proxy
// that gave up, a connection closed cleanly) is downloaded once more; cut
// twice, the error names the source and says that nothing was installed
// and that the next attempt downloads it again.
func TestInstallRetriesATruncatedArchiveOnce(t *testing.T) {
	t.Parallel()
	tarball, err := releasetest.Build(releasetest.Spec{Version: "7.14.3", Padding: 256 << 10})
	require.NoError(t, err)
	for _, cuts := range []int{1, 2} {
		t.Run(fmt.Sprintf("cut %d times", cuts), func(t *testing.T) {
			t.Parallel()
			srv := releasetest.NewTestServer(t)
			srv.AddRelease("7.14.3", tarball)
			srv.OmitContentLength(true)
			for range cuts {
				srv.InjectFault(releasetest.ReleasePath("7.14.3"), releasetest.Fault{Kind: releasetest.FaultTruncate, After: int64(len(tarball) / 2)})
			}
			v := openVolume(t, t.TempDir())
			_, err := New(v, testOpts("concourse/0", srv.BaseURL(), &recorder{})).Install(context.Background(), ver("7.14.3"))
			assert.Equal(t, 2, srv.Hits(releasetest.ReleasePath("7.14.3")), "one more attempt, and only one")
			assertNoPartials(t, v)
			if cuts == 1 {
				require.NoError(t, err)
				assertCurrent(t, v, "7.14.3")
				return
			}
			short, ok := errors.AsType[*storage.TruncatedArchiveError](err)
			require.True(t, ok, "%v", err)
			assert.Equal(t, srv.TarballURL("7.14.3"), short.Source)
			assert.Equal(t, 2, short.Attempts)
			assert.Equal(t, int64(len(tarball)/2), short.Received)
			assert.Contains(t, err.Error(), srv.TarballURL("7.14.3"))
			assert.Contains(t, err.Error(), "nothing was installed; the next attempt downloads it again")
			assertCurrent(t, v, "")
		})
	}
}

func TestInstallFromLocalFilePinned(t *testing.T) {
	t.Parallel()
	tarball := releasetest.Tarball("7.14.3")
	resource := filepath.Join(t.TempDir(), "concourse.tgz")
	require.NoError(t, os.WriteFile(resource, tarball, 0o644))
	v := openVolume(t, t.TempDir())
	opts := testOpts("concourse/0", "", &recorder{})
	opts.Source = storage.FileSource(resource)
	opts.SHA256 = releasetest.SHA256Hex(tarball)
	res, err := New(v, opts).Install(context.Background(), ver("7.14.3"))
	require.NoError(t, err)
	assert.Equal(t, "sha256:"+releasetest.SHA256Hex(tarball), res.Checksum)
	assertCurrent(t, v, "7.14.3")
}

func TestInstallRefusesAVersionThatCannotNameARelease(t *testing.T) {
	t.Parallel()
	v := openVolume(t, t.TempDir())
	for _, bad := range []version.Version{{}, ver("7.14.3-a" + storage.PartialInfix + "b")} {
		res, err := New(v, Options{}).Stage(context.Background(), bad)
		ve, ok := errors.AsType[*storage.ValueError](err)
		require.True(t, ok, "%v", err)
		assert.Equal(t, storage.FieldVersion, ve.Field)
		assert.Equal(t, fsm.InstallFailed, res.State)
		assert.Empty(t, res.Dir)
	}
}

func TestInstallPrunesOldReleases(t *testing.T) {
	t.Parallel()
	versions := []string{"7.12.0", "7.13.0", "7.14.0-rc.1", "7.14.0", "7.14.1"}
	srv := releasetest.NewTestServer(t, versions...)
	v := openVolume(t, t.TempDir())
	var pruned []version.Version
	for i, r := range versions {
		opts := testOpts("concourse/0", srv.BaseURL(), &recorder{})
		opts.Protected = []version.Version{ver("7.12.0")} // say, an upgrade's rollback target
		opts.Revision = uint64(i)
		res, err := New(v, opts).Install(context.Background(), ver(r))
		require.NoError(t, err)
		pruned = append(pruned, res.Pruned...)
	}
	left, err := v.ListReleases()
	require.NoError(t, err)
	assert.Equal(t, []version.Version{ver("7.12.0"), ver("7.14.0"), ver("7.14.1")}, left)
	assert.ElementsMatch(t, []version.Version{ver("7.13.0"), ver("7.14.0-rc.1")}, pruned)
}

func TestWaitingStatus(t *testing.T) {
	t.Parallel()
	at := testEpoch
	tests := []struct {
		name   string
		locked storage.LockedError
		want   string
	}{
		{"downloading the same version",
			storage.LockedError{At: at, Progress: &storage.Progress{Unit: "concourse/0", Version: ver("7.14.3"), Started: at.Add(-42 * time.Second)}},
			"Waiting for Concourse 7.14.3 (downloading on concourse/0 for 42s)"},
		{"installing another version",
			storage.LockedError{At: at, Progress: &storage.Progress{Unit: "concourse/2", Version: ver("7.14.2"), Started: at.Add(-3 * time.Minute)}},
			"Waiting for Concourse 7.14.3 (concourse/2 is installing 7.14.2 for 3m0s)"},
		{"stuck",
			storage.LockedError{At: at, Stuck: true, Progress: &storage.Progress{Unit: "concourse/2", Version: ver("7.14.3"), Started: at.Add(-time.Hour)}},
			"Waiting for Concourse 7.14.3 (downloading on concourse/2 for 1h0m0s, stuck)"},
		{"locked without a marker",
			storage.LockedError{At: at, Holder: &storage.Holder{Unit: "concourse/1", Since: at.Add(-5 * time.Second)}},
			"Waiting for Concourse 7.14.3 (volume locked by concourse/1 for 5s)"},
		{"clocks disagree", storage.LockedError{At: at, Holder: &storage.Holder{Unit: "concourse/1", Since: at.Add(time.Minute)}},
			"Waiting for Concourse 7.14.3 (volume locked by concourse/1 for 0s)"},
		{"nothing known", storage.LockedError{At: at}, "Waiting for Concourse 7.14.3 (volume locked)"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, WaitingStatus(ver("7.14.3"), &tt.locked), tt.name)
	}
}

func TestFormatDownloadProgress(t *testing.T) {
	t.Parallel()
	tests := []struct {
		p    storage.DownloadProgress
		want string
	}{
		{storage.DownloadProgress{Done: 52 << 20, Total: 115 << 20}, "Downloading Concourse 7.14.3: 45% (52.0 MiB of 115.0 MiB)"},
		{storage.DownloadProgress{Done: 0, Total: 115 << 20}, "Downloading Concourse 7.14.3: 0% (0 B of 115.0 MiB)"},
		{storage.DownloadProgress{Done: 115 << 20, Total: 115 << 20}, "Downloading Concourse 7.14.3: 100% (115.0 MiB of 115.0 MiB)"},
		{storage.DownloadProgress{Done: 52 << 20, Total: -1}, "Downloading Concourse 7.14.3: 52.0 MiB"},
		{storage.DownloadProgress{Done: 1_250_000, Total: 2_500_000}, "Downloading Concourse 7.14.3: 50% (1.2 MiB of 2.4 MiB)"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, FormatDownloadProgress(ver("7.14.3"), tt.p))
	}
}

// A waiter looks for the release without the lock: once it is in place (and
// `current` names it, to install) the waiter is done at once, even while
// another unit still holds the lock, so waiters do not take the lock in
// turn just to look.
func TestWaitersFindTheReleaseWithoutTheLock(t *testing.T) {
	t.Parallel()
	srv := releasetest.NewTestServer(t, "7.14.3")
	root := t.TempDir()
	_, err := New(openVolume(t, root), testOpts("concourse/0", srv.BaseURL(), &recorder{})).Install(context.Background(), ver("7.14.3"))
	require.NoError(t, err)
	holdInstalling(t, root, "concourse/0", testEpoch, "7.14.4") // and it keeps the lock

	for _, stage := range []bool{true, false} {
		rec := &recorder{}
		opts := testOpts("concourse/1", srv.BaseURL(), rec)
		ctx, cancel := context.WithCancel(context.Background())
		opts.OnStatus = func(s string) {
			rec.stat(s)
			if strings.HasPrefix(s, "Waiting") {
				cancel() // it waited: the test has failed
			}
		}
		in := New(openVolume(t, root), opts)
		run := in.Install
		if stage {
			run = in.Stage
		}
		res, err := run(ctx, ver("7.14.3"))
		cancel()
		require.NoError(t, err, "stage %v", stage)
		assert.Equal(t, []string{fsm.InstallFoundInstalled}, rec.events())
		assert.Equal(t, !stage, res.Activated)
	}
}

// A waiter repeats a status line that only differs by its duration at most
// every StatusEvery (status-set is a hook tool call), and at once when the
// holder changes.
func TestWaitingStatusIsThrottled(t *testing.T) {
	t.Parallel()
	srv := releasetest.NewTestServer(t, "7.14.3")
	root := t.TempDir()
	holdInstalling(t, root, "concourse/0", testEpoch, "7.14.3")

	rec := &recorder{}
	opts := testOpts("concourse/1", srv.BaseURL(), rec)
	opts.StatusEvery = 10 * time.Second
	var mu sync.Mutex
	clock := testEpoch
	ctx, cancel := context.WithCancel(context.Background())
	opts.Now = func() time.Time { // a second passes at every look at the lock
		mu.Lock()
		defer mu.Unlock()
		clock = clock.Add(time.Second)
		if clock.Sub(testEpoch) > 35*time.Second {
			cancel()
		}
		return clock
	}
	_, err := New(openVolume(t, root, storage.WithClock(opts.Now)), opts).Stage(ctx, ver("7.14.3"))
	require.ErrorIs(t, err, context.Canceled)
	st := rec.statuses()
	assert.GreaterOrEqual(t, len(st), 2)
	assert.LessOrEqual(t, len(st), 4, "about one line every 10 of 35 seconds: %q", st)
}
