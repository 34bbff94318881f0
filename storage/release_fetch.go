package storage

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/version"
)

// FetchSpec says where a release comes from and how it is checked and
// unpacked; zero values take the defaults.
type FetchSpec struct {
	// Source is the tarball; when zero it is the release under BaseURL
	// (DefaultReleaseBaseURL when empty).
	Source  Source
	BaseURL string
	// SHA256 pins the tarball's SHA-256; it is checked in addition to the
	// sidecar's SHA-1 and replaces it when there is no sidecar.
	SHA256 string
	Limits ExtractLimits
	// SpaceNeeded, when positive, is the space the unpacked release needs
	// (an operator's figure); otherwise it is estimated (see NoSpaceError).
	SpaceNeeded int64
	Fetch       FetchOptions
}

// SourceFor is where v's tarball comes from: Source, or when that is zero
// the release under BaseURL.
func (s FetchSpec) SourceFor(v version.Version) Source {
	if s.Source == (Source{}) {
		return DefaultSource(s.BaseURL, v)
	}
	return s.Source
}

// PartialRelease is a release downloaded, hashed against its checksums and
// unpacked into a directory only its lock holder knows, not yet verified
// nor in place. Verify it, then Commit it or Discard it.
type PartialRelease struct {
	l       *Lock
	Version version.Version
	Dir     string // releases/<version>.partial-<random>
	Source  string
	Digests Digests
	Stats   ExtractStats
}

// spaceMargin is what an estimate adds for what it cannot know: file system
// blocks, and a release a little larger than the one measured.
const spaceMargin = 10 // percent

// FetchRelease downloads v's tarball, checks it against its sidecar (and
// pin) and unpacks it into a partial directory, under the lock. Before a
// byte is unpacked the space the release needs is compared with what is
// free (*NoSpaceError, nothing downloaded); when the disk fills anyway the
// unpack stops at once (*NoSpaceError with what was written). On error
// nothing of the release is left on the volume.
func (l *Lock) FetchRelease(ctx context.Context, v version.Version, spec FetchSpec) (_ *PartialRelease, err error) {
	if err := ValidateRelease(v); err != nil {
		return nil, err
	}
	if err := l.stillHeld(); err != nil {
		return nil, err
	}
	src := spec.SourceFor(v)
	r, err := src.resolve()
	if err != nil {
		return nil, err
	}
	fetcher := NewFetcher(spec.Fetch)
	want, err := fetcher.ExpectedSums(ctx, src, spec.SHA256)
	if err != nil {
		return nil, err
	}
	p := &PartialRelease{l: l, Version: v, Source: r.String()}
	need, basis := int64(-1), SpaceUnknown
	defer func() {
		if err == nil {
			return
		}
		if derr := p.Discard(); derr != nil {
			err = errors.Join(err, derr)
		}
		// Free is measured with the partial release gone.
		if ns, ok := errors.AsType[*NoSpaceError](err); ok {
			ns.Free = l.v.freeBytes()
			return
		}
		if need < p.Stats.Bytes { // the estimate was wrong: say nothing of it
			need, basis = -1, SpaceUnknown
		}
		err = l.v.noSpace(err, &NoSpaceError{Path: l.v.Path(ReleasesDir), Need: need, Basis: basis, Written: p.Stats.Bytes})
	}()
	// What is known before the download is checked before it; the consumer
	// checks again once the download's size is known too.
	need, basis = l.v.spaceNeeded(spec.SpaceNeeded, r.path, -1)
	if err := l.v.checkSpace(need, basis); err != nil {
		return nil, err
	}
	p.Digests, err = fetcher.Fetch(ctx, src, want, func(ctx context.Context, body io.Reader, size int64) error {
		if err := p.Discard(); err != nil { // a retry starts from scratch
			return err
		}
		need, basis = l.v.spaceNeeded(spec.SpaceNeeded, r.path, size)
		if err := l.v.checkSpace(need, basis); err != nil {
			return err
		}
		dir, err := l.v.partialDir(v)
		if err != nil {
			return err
		}
		p.Dir = dir
		p.Stats, err = ExtractRelease(ctx, body, dir, spec.Limits)
		return err
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// Verify runs the release's `concourse --version` (within timeout; the
// default when not positive) and checks that it prints the version.
func (p *PartialRelease) Verify(ctx context.Context, timeout time.Duration) error {
	return VerifyBinary(ctx, p.Dir, p.Version, timeout)
}

// Commit puts the verified release in place as releases/<version>: it
// writes the release info into it, makes every byte of it durable, renames
// it into place (replacing a directory there that is not a complete
// release) and makes the rename durable. Only then can a marker name it.
func (p *PartialRelease) Commit() (*ReleaseInfo, error) {
	info := &ReleaseInfo{
		Version:       p.Version,
		Checksum:      p.Digests.Checksum(),
		Source:        p.Source,
		Unit:          p.l.holder.Unit,
		InstalledAt:   p.l.v.cfg.now().UTC(),
		UnpackedBytes: p.Stats.Bytes,
	}
	err := p.l.held(func() error {
		v := p.l.v
		if err := v.writeMarker(filepath.Join(p.Dir, ReleaseInfoFile), info); err != nil {
			return err
		}
		if err := v.cfg.durable.syncData(p.Dir); err != nil {
			return err
		}
		final := v.releaseDir(p.Version)
		// A releases/<V> without release info is not ours to trust (see
		// ReadReleaseInfo); it is replaced.
		if err := os.RemoveAll(final); err != nil {
			return err
		}
		if err := v.cfg.durable.rename(p.Dir, final); err != nil {
			return fmt.Errorf("move the verified release into place: %w", err)
		}
		p.Dir = final
		return v.syncDir(v.Path(ReleasesDir))
	})
	if err != nil {
		err = errors.Join(err, p.Discard())
		if isNoSpace(err) {
			// Whatever filled up (the release info, a sync, the rename), the
			// partial release is gone: say so of the release, with the space
			// free now.
			return nil, &NoSpaceError{Path: p.l.v.Path(ReleasesDir), Need: -1, Basis: SpaceUnknown, Written: p.Stats.Bytes, Err: err, Free: p.l.v.freeBytes()}
		}
		return nil, err
	}
	return info, nil
}

// Discard removes the partial release; it is idempotent, and a no-op once
// the release was committed.
func (p *PartialRelease) Discard() error {
	if p.Dir == "" || p.Dir == p.l.v.releaseDir(p.Version) {
		return nil
	}
	err := os.RemoveAll(p.Dir)
	p.Dir = ""
	return err
}

// spaceNeeded estimates the space v's unpacked release needs from what is
// known: the operator's figure wins outright; otherwise the largest of the
// gzip trailer of a local tarball (the archive's own unpacked size), the
// largest release already on the volume (Concourse releases change little
// in size) and the download's size (a lower bound: an archive does not
// unpack to less than it weighs). -1 when nothing is known.
func (v *Volume) spaceNeeded(override int64, localPath string, downloadSize int64) (int64, SpaceBasis) {
	if override > 0 {
		return override, SpaceOverride
	}
	withMargin := func(n int64) int64 { return n + n*spaceMargin/100 }
	need, basis := int64(-1), SpaceUnknown
	consider := func(n int64, b SpaceBasis) {
		if n > need {
			need, basis = n, b
		}
	}
	if localPath != "" {
		if size, ok := gzipUnpackedSize(localPath); ok {
			consider(withMargin(size), SpaceGzipTrailer)
		}
	}
	if size := v.largestRelease(); size > 0 {
		consider(withMargin(size), SpacePreviousRelease)
	}
	if downloadSize > 0 {
		consider(downloadSize, SpaceDownloadSize)
	}
	return need, basis
}

// checkSpace refuses a release that needs more than is free.
func (v *Volume) checkSpace(need int64, basis SpaceBasis) error {
	if need < 0 {
		return nil // nothing known: a full disk stops the unpack instead
	}
	free := v.freeBytes()
	if free >= 0 && need > free {
		return &NoSpaceError{Path: v.Path(ReleasesDir), Need: need, Basis: basis, Free: free}
	}
	return nil
}

// freeBytes is the space free on the volume, -1 when statfs fails.
func (v *Volume) freeBytes() int64 {
	info, err := v.FSInfo()
	if err != nil {
		return -1
	}
	return int64(info.FreeBytes)
}

// largestRelease is the unpacked size of the largest complete release on the
// volume, from its release info (or by walking it, for releases staged
// before the info recorded it); 0 when there is none.
func (v *Volume) largestRelease() int64 {
	versions, _ := v.ListReleases()
	var largest int64
	for _, ver := range versions {
		info, err := v.readReleaseInfo(ver)
		if err != nil {
			continue
		}
		size := info.UnpackedBytes
		if size <= 0 {
			size = treeSize(v.releaseDir(ver))
		}
		largest = max(largest, size)
	}
	return largest
}

// gzipUnpackedSize reads the ISIZE field of a gzip file's trailer: the
// unpacked size modulo 2^32 of its last member. It is trusted only when it
// is about the file's own size or more (less means a wrapped size or
// several members: an archive does not unpack to less than it weighs).
func gzipUnpackedSize(path string) (int64, bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() < 18 { // a gzip header and trailer
		return 0, false
	}
	var trailer [4]byte
	if _, err := f.ReadAt(trailer[:], fi.Size()-4); err != nil {
		return 0, false
	}
	size := int64(binary.LittleEndian.Uint32(trailer[:]))
	// Incompressible data grows a little in deflate's stored blocks: allow 1%.
	if size*100 < fi.Size()*99 {
		return 0, false
	}
	return size, true
}
