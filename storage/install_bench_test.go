package storage

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

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
			v, err := OpenVolume(root)
			if err != nil {
				b.Fatal(err)
			}
			in := NewInstaller(v, InstallOptions{Unit: "concourse/0", BaseURL: srv.BaseURL(), Activate: true})
			b.StartTimer()
			if _, err := in.Install(context.Background(), "7.14.3"); err != nil {
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

// BenchmarkVerifyChecksum compares the hashing a download gets with the
// coreutils tools on the same 100 MB file.
func BenchmarkVerifyChecksum(b *testing.B) {
	path := filepath.Join(b.TempDir(), "release.tgz")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(f, releasetest.Incompressible(benchPadding, 7)); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	for _, algo := range []string{"sha1", "sha256"} {
		b.Run(algo+"/ours", func(b *testing.B) {
			b.SetBytes(benchPadding)
			for i := 0; i < b.N; i++ {
				f, err := os.Open(path)
				if err != nil {
					b.Fatal(err)
				}
				_, err = SumReader(f, algo == "sha1", algo == "sha256")
				f.Close()
				if err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(algo+"/"+algo+"sum", func(b *testing.B) {
			b.SetBytes(benchPadding)
			for i := 0; i < b.N; i++ {
				if out, err := exec.Command(algo+"sum", path).CombinedOutput(); err != nil {
					b.Fatalf("%s: %v: %s", algo+"sum", err, out)
				}
			}
		})
	}
}
