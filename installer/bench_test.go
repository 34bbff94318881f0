package installer

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/bytesize"
	"github.com/concourse-ci-machine/concourse-ci-machine/storage/releasetest"
)

const benchPadding = 100 << 20

// BenchmarkInstall compares a full install of a 100 MB release from a
// loopback server ("ours": lock, markers, sidecar, checksum, safe unpack,
// --version, rename, current) with the plain pipeline without any of those
// checks ("baseline": GET | tee sha1 | gunzip | untar). Compare the two
// ns/op; the goal is ours within 1.2x of the baseline.
func BenchmarkInstall(b *testing.B) {
	tarball, err := releasetest.Build(releasetest.Spec{Version: "7.14.3", Padding: benchPadding})
	if err != nil {
		b.Fatal(err)
	}
	srv := releasetest.NewServer()
	defer srv.Close()
	srv.AddRelease("7.14.3", tarball)
	wantSHA1 := releasetest.SHA1Hex(tarball)

	b.Run("ours", func(b *testing.B) {
		b.SetBytes(int64(len(tarball)))
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			root := b.TempDir()
			in := New(openVolume(b, root), Options{Unit: "concourse/0", BaseURL: srv.BaseURL()})
			b.StartTimer()
			if _, err := in.Install(context.Background(), ver("7.14.3")); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			_ = os.RemoveAll(root)
			b.StartTimer()
		}
	})
	b.Run("baseline", func(b *testing.B) {
		b.SetBytes(int64(len(tarball)))
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			dir := b.TempDir()
			b.StartTimer()
			if err := baselineInstall(srv.TarballURL("7.14.3"), dir, wantSHA1); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			_ = os.RemoveAll(dir)
			b.StartTimer()
		}
	})
}

// baselineInstall is the naive pipeline: no lock, limits, link checks,
// retries, progress or verification beyond the SHA-1.
func baselineInstall(url, dir, wantSHA1 string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	h := sha1.New()
	gz, err := gzip.NewReader(io.TeeReader(resp.Body, h))
	if err != nil {
		return err
	}
	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		path := filepath.Join(dir, hdr.Name)
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(path, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, os.FileMode(hdr.Mode).Perm())
			if err != nil {
				return err
			}
			if _, err := io.Copy(f, tr); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
		}
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if hex.EncodeToString(h.Sum(nil)) != wantSHA1 {
		return errors.New("sha1 mismatch")
	}
	return nil
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
			in := New(openVolume(b, root), Options{Unit: fmt.Sprintf("concourse/%d", i), BaseURL: srv.BaseURL()})
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
