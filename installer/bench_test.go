package installer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/bytesize"
	"github.com/concourse-ci-machine/concourse-ci-machine/storage"
	"github.com/concourse-ci-machine/concourse-ci-machine/storage/releasetest"
	"github.com/stretchr/testify/require"
)

// BenchmarkInstallVsCurl is the mission's install figure: an install of a
// 200 MB release (lock, markers, sidecar, checksum, safe unpack, fsync,
// --version, rename, current) by a unit that is its own process, against
// `curl -o f URL && sha1sum f && tar xzf f` from the same loopback server.
// ours/curl is the ratio of their wall times; the install streams, so its
// peak RSS (the child's Maxrss) must not grow with the release: it is
// measured at 50 and 200 MB, and rss200/rss50 should stay near 1.
func BenchmarkInstallVsCurl(b *testing.B) {
	const small, large = 50 << 20, 200 << 20
	srv := releasetest.NewServer()
	defer srv.Close()
	for _, r := range []struct {
		version string
		padding int64
	}{{"7.14.2", small}, {"7.14.3", large}} {
		tarball, err := releasetest.Build(releasetest.Spec{Version: r.version, Padding: r.padding})
		require.NoError(b, err)
		srv.AddRelease(r.version, tarball)
	}

	var ours, curl time.Duration
	var rssSmall, rssLarge int64
	for b.Loop() {
		elapsed, _ := installInChild(b, srv, "7.14.3")
		ours += elapsed
		curl += curlSha1sumTar(b, srv.TarballURL("7.14.3"))
		_, rss := installInChild(b, srv, "7.14.2")
		rssSmall += rss
		_, rss = installInChild(b, srv, "7.14.3")
		rssLarge += rss
	}
	n := float64(b.N)
	b.ReportMetric(float64(ours.Nanoseconds())/n, "ns/op") // ours, not the whole loop
	b.ReportMetric(ours.Seconds()/n, "ours-s")
	b.ReportMetric(curl.Seconds()/n, "curl-s")
	b.ReportMetric(float64(ours)/float64(curl), "ours/curl")
	b.ReportMetric(float64(rssSmall)/n/(1<<20), "MiB-RSS-50MB")
	b.ReportMetric(float64(rssLarge)/n/(1<<20), "MiB-RSS-200MB")
	b.ReportMetric(float64(rssLarge)/float64(rssSmall), "rss200/rss50")
}

// installInChild installs version on a fresh volume in a child process
// (TestHelperProcessInstaller) and returns its wall time and peak RSS.
func installInChild(b *testing.B, srv *releasetest.Server, version string) (time.Duration, int64) {
	root := b.TempDir()
	defer os.RemoveAll(root)
	start := time.Now()
	c := startInstallerChild(b, root, "concourse/0", srv.BaseURL(), version)
	result, rss := c.Next(b), c.Next(b)
	err := c.Wait()
	elapsed := time.Since(start)
	require.NoError(b, err)
	require.Equal(b, "result downloaded", result)
	peak, err := strconv.ParseInt(strings.TrimPrefix(rss, "peak-rss "), 10, 64)
	require.NoError(b, err, "the child said %q", rss)
	return elapsed, peak
}

// curlSha1sumTar runs the baseline in a fresh directory and returns its wall
// time.
func curlSha1sumTar(b *testing.B, url string) time.Duration {
	dir := b.TempDir()
	defer os.RemoveAll(dir)
	cmd := exec.Command("sh", "-c", `curl -sS -o f "$1" && sha1sum f && tar xzf f`, "sh", url)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	start := time.Now()
	out, err := cmd.CombinedOutput()
	elapsed := time.Since(start)
	require.NoError(b, err, "%s", out)
	require.FileExists(b, filepath.Join(dir, releasetest.BinaryPath))
	return elapsed
}

// BenchmarkSharedVolume is the mission's sharing figure: N units, each with
// its own handle on one volume (and so its own flock), stage one release at
// once from one server and make their worker directories. volume/release is
// the volume's disk use (du) over one unpacked release's (tar xzf of the
// same tarball): 1 means one copy for the whole cluster. GETs/version must
// be 1.
func BenchmarkSharedVolume(b *testing.B) {
	tarball, err := releasetest.Build(releasetest.Spec{Version: "7.14.3", Padding: 16 << 20})
	require.NoError(b, err)
	release := unpackedSize(b, tarball)
	for _, units := range []int{3, 10, 50} {
		b.Run(fmt.Sprintf("units=%d", units), func(b *testing.B) {
			var ratio, gets float64
			for b.Loop() {
				srv := releasetest.NewServer()
				srv.AddRelease("7.14.3", tarball)
				root := b.TempDir()
				stageOnSharedVolume(b, root, srv.BaseURL(), units)
				ratio += float64(diskUsage(b, root)) / float64(release)
				gets += float64(srv.Hits(releasetest.ReleasePath("7.14.3")))
				srv.Close()
				require.NoError(b, os.RemoveAll(root))
			}
			b.ReportMetric(ratio/float64(b.N), "volume/release")
			b.ReportMetric(gets/float64(b.N), "GETs/version")
		})
	}
}

// stageOnSharedVolume runs units goroutines, each a unit with its own volume
// handle, that stage 7.14.3 and make their worker directory.
func stageOnSharedVolume(b *testing.B, root, baseURL string, units int) {
	ctx, cancel := context.WithTimeout(context.Background(), deadlockGuard)
	defer cancel()
	errs := make([]error, units)
	var wg sync.WaitGroup
	for i := range units {
		unit := fmt.Sprintf("concourse/%d", i)
		v := openVolume(b, root)
		wg.Go(func() {
			if _, err := New(v, Options{Unit: unit, FetchSpec: storage.FetchSpec{BaseURL: baseURL}}).Stage(ctx, ver("7.14.3")); err != nil {
				errs[i] = err
				return
			}
			_, errs[i] = v.WorkerDir(unit)
		})
	}
	wg.Wait()
	require.NoError(b, errors.Join(errs...))
}

// unpackedSize is the disk use of the tarball unpacked by tar.
func unpackedSize(b *testing.B, tarball []byte) int64 {
	dir := b.TempDir()
	defer os.RemoveAll(dir)
	cmd := exec.Command("tar", "xzf", "-")
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(tarball)
	out, err := cmd.CombinedOutput()
	require.NoError(b, err, "%s", out)
	return diskUsage(b, dir)
}

// diskUsage is what du says of dir: allocated blocks, each inode once.
func diskUsage(b *testing.B, dir string) int64 {
	seen := map[uint64]bool{}
	var total int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		st := info.Sys().(*syscall.Stat_t)
		if !seen[st.Ino] {
			seen[st.Ino] = true
			total += st.Blocks * 512
		}
		return nil
	})
	require.NoError(b, err)
	return total
}

// BenchmarkRacingUnits: N units (goroutines, each with its own volume handle
// and so its own flock) install one release at once, served at a fixed rate
// so that one download takes about two seconds. last/single is the last
// unit's finish time divided by the time of the unit that downloaded (one
// unit's install, measured in the same race; the goal: at most 1.1, i.e.
// waiters learn within about 100 ms that the release is in place);
// GETs/op must be 1.
func BenchmarkRacingUnits(b *testing.B) {
	tarball, err := releasetest.Build(releasetest.Spec{Version: "7.14.3", Padding: 4 << 20})
	if err != nil {
		b.Fatal(err)
	}
	rate := int64(len(tarball) / 2) // bytes per second: two seconds a download
	b.Logf("one download: %s at %s/s", bytesize.Format(int64(len(tarball))), bytesize.Format(rate))
	race := func(b *testing.B, units int) (ratio float64, gets int) {
		srv := releasetest.NewServer()
		defer srv.Close()
		srv.AddRelease("7.14.3", tarball)
		srv.SetRate(rate)
		root := b.TempDir()
		openVolume(b, root)
		start := make(chan struct{})
		took := make([]time.Duration, units)
		results := make([]*Result, units)
		errs := make([]error, units)
		var wg sync.WaitGroup
		for i := range units {
			in := New(openVolume(b, root), Options{Unit: fmt.Sprintf("concourse/%d", i), FetchSpec: storage.FetchSpec{BaseURL: srv.BaseURL()}})
			wg.Go(func() {
				<-start
				began := time.Now()
				results[i], errs[i] = in.Install(context.Background(), ver("7.14.3"))
				took[i] = time.Since(began)
			})
		}
		close(start)
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			b.Fatal(err)
		}
		var single, last time.Duration
		for i, r := range results {
			if r.Downloaded {
				single = took[i]
			}
			last = max(last, took[i])
		}
		return float64(last) / float64(single), srv.Hits(releasetest.ReleasePath("7.14.3"))
	}
	for _, units := range []int{2, 8, 32} {
		b.Run(fmt.Sprintf("units=%d", units), func(b *testing.B) {
			var ratios float64
			gets := 0
			for b.Loop() {
				ratio, hits := race(b, units)
				ratios += ratio
				gets += hits
			}
			b.ReportMetric(ratios/float64(b.N), "last/single")
			b.ReportMetric(float64(gets)/float64(b.N), "GETs/op")
		})
	}
}
