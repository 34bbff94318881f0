// Package releasetest builds Concourse release tarballs in memory and serves
// them from a loopback HTTP server with injectable faults. It is a normal
// package (not a _test file) so that the demo and other packages' tests can
// reuse it; it must not import storage, whose tests import it.
package releasetest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"time"
)

// BinaryPath is where a release keeps the concourse binary.
const BinaryPath = "concourse/bin/concourse"

// PaddingPath holds the optional incompressible padding.
const PaddingPath = "concourse/lib/padding.bin"

// Spec describes a release tarball.
type Spec struct {
	Version string
	// VersionOutput is what `concourse --version` prints; Version when empty
	// (set it to build a release whose binary lies about its version).
	VersionOutput string
	// Padding adds that many bytes of incompressible data, to make a large
	// release for benchmarks and full-disk tests.
	Padding int64
	// OmitBinary leaves concourse/bin/concourse out.
	OmitBinary bool
	// Binary, when set, is concourse/bin/concourse instead of the script
	// (a wrapper that runs a fake Concourse, for the demo).
	Binary []byte
}

// fixtureTime keeps tarballs byte-for-byte reproducible.
func fixtureTime() time.Time { return time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC) }

// Tarball builds the release tarball for version with no padding.
func Tarball(version string) []byte {
	data, err := Build(Spec{Version: version})
	if err != nil {
		panic(fmt.Sprintf("releasetest: building a plain tarball cannot fail: %v", err))
	}
	return data
}

// Build builds a gzipped release tarball: the concourse script, resource
// types and optional padding.
func Build(spec Spec) ([]byte, error) {
	out := spec.VersionOutput
	if out == "" {
		out = spec.Version
	}
	w := newArchive()
	w.dir("concourse/")
	w.dir("concourse/bin/")
	switch {
	case spec.OmitBinary:
	case spec.Binary != nil:
		w.file(BinaryPath, 0o755, spec.Binary)
	default:
		w.file(BinaryPath, 0o755, []byte(Script(out)))
	}
	w.file("concourse/bin/gdn", 0o755, []byte("#!/bin/sh\necho gdn\n"))
	w.dir("concourse/resource-types/")
	w.dir("concourse/resource-types/git/")
	w.file("concourse/resource-types/git/resource_metadata.json", 0o644,
		[]byte(`{"type":"git","version":"1.0.0","privileged":false}`+"\n"))
	w.file("concourse/resource-types/git/rootfs.tgz", 0o644, []byte("not a real rootfs\n"))
	if spec.Padding > 0 {
		w.dir("concourse/lib/")
		w.stream(PaddingPath, 0o644, spec.Padding, Incompressible(spec.Padding, 1))
	}
	return w.close()
}

// Script is the fake concourse binary: a shell script that prints version
// for --version, as the real one does, and for `worker` runs until it is
// told to land (SIGUSR1) or retire (SIGUSR2), as a real worker does once
// its builds have finished, so demos can run it under systemd.
func Script(version string) string {
	return fmt.Sprintf(`#!/bin/sh
if [ "$1" = --version ]; then echo %[1]q; exit 0; fi
if [ "$1" = worker ]; then
	echo "concourse (fake) %[1]s worker running"
	trap 'echo "concourse (fake) %[1]s worker landed"; exit 0' USR1
	trap 'echo "concourse (fake) %[1]s worker retired"; exit 0' USR2
	while :; do sleep 1 & wait $!; done
fi
echo "concourse (fake) $*"
`, version)
}

// Incompressible returns n bytes of seeded random data: the same seed gives
// the same bytes, and gzip cannot shrink them.
func Incompressible(n int64, seed uint64) io.Reader {
	var key [32]byte
	key[0] = byte(seed)
	key[1] = byte(seed >> 8)
	return io.LimitReader(rand.NewChaCha8(key), n)
}

// SHA1Hex and SHA256Hex are the checksums a sidecar or pin carries.
func SHA1Hex(data []byte) string {
	sum := sha1.Sum(data)
	return hex.EncodeToString(sum[:])
}

// SHA256Hex is the hex SHA-256 of data.
func SHA256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// Sidecar renders a .sha1 file as upstream publishes it: "<hex>  <asset>".
func Sidecar(data []byte, asset string) []byte {
	return []byte(SHA1Hex(data) + "  " + asset + "\n")
}

// archive writes tar entries into a gzip stream in memory. The first error
// sticks and is returned by close.
type archive struct {
	buf bytes.Buffer
	gz  *gzip.Writer
	tw  *tar.Writer
	err error
}

func newArchive() *archive {
	a := &archive{}
	// BestSpeed: fixtures are built often; the padding is incompressible anyway.
	a.gz, _ = gzip.NewWriterLevel(&a.buf, gzip.BestSpeed)
	a.tw = tar.NewWriter(a.gz)
	return a
}

func (a *archive) header(h *tar.Header) {
	if a.err != nil {
		return
	}
	if h.ModTime.IsZero() {
		h.ModTime = fixtureTime()
	}
	if h.Format == tar.FormatUnknown {
		h.Format = tar.FormatPAX
	}
	a.err = a.tw.WriteHeader(h)
}

func (a *archive) dir(name string) {
	a.header(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755})
}

func (a *archive) file(name string, mode int64, body []byte) {
	a.stream(name, mode, int64(len(body)), bytes.NewReader(body))
}

func (a *archive) stream(name string, mode int64, size int64, body io.Reader) {
	a.header(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: size})
	if a.err == nil {
		_, a.err = io.Copy(a.tw, body)
	}
}

func (a *archive) close() ([]byte, error) {
	if a.err == nil {
		a.err = a.tw.Close()
	}
	if a.err == nil {
		a.err = a.gz.Close()
	}
	if a.err != nil {
		return nil, fmt.Errorf("releasetest: build tarball: %w", a.err)
	}
	return a.buf.Bytes(), nil
}
