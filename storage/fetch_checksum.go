package storage

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
)

// ExpectedSums are the checksums a tarball must match; an empty field is not
// checked, and at least one must be set before any byte is installed.
type ExpectedSums struct {
	SHA1   string // from the .sha1 sidecar
	SHA256 string // the operator's pin (release-sha256)
}

// Digests are what the downloaded bytes hashed to; only the sums that were
// expected are computed.
type Digests struct {
	SHA1   string
	SHA256 string
	Bytes  int64
}

// Checksum is the strongest digest as InstalledVersion records it:
// "sha256:<hex>" when pinned, else "sha1:<hex>".
func (d Digests) Checksum() string {
	if d.SHA256 != "" {
		return "sha256:" + d.SHA256
	}
	if d.SHA1 != "" {
		return "sha1:" + d.SHA1
	}
	return ""
}

// ErrNoChecksum means nothing could vouch for the tarball: no sidecar and no
// pin. The tarball is not downloaded.
var ErrNoChecksum = errors.New("no checksum to verify the release against")

// NoChecksumError says where the sidecar was looked for and which option pins
// a checksum instead.
type NoChecksumError struct {
	Source  string
	Sidecar string
	Err     error // why the sidecar is unusable
}

func (e *NoChecksumError) Error() string {
	return fmt.Sprintf("%v: %s has no usable checksum sidecar (%s: %v); refusing to install unverified bytes: set the charm option %s to the tarball's SHA-256 (sha256sum %s)",
		ErrNoChecksum, e.Source, e.Sidecar, e.Err, PinOption, ReleaseAssetOf(e.Source))
}

func (e *NoChecksumError) Unwrap() []error { return []error{ErrNoChecksum, e.Err} }

// ReleaseAssetOf is the last path element of a source, for messages.
func ReleaseAssetOf(source string) string {
	if i := strings.LastIndex(source, "/"); i >= 0 {
		return source[i+1:]
	}
	return source
}

// ErrChecksumMismatch means the downloaded bytes are not the release vouched
// for; they are discarded.
var ErrChecksumMismatch = errors.New("checksum mismatch")

// ChecksumMismatchError names the algorithm and both digests.
type ChecksumMismatchError struct {
	Source    string
	Algorithm string // "sha1" or "sha256"
	Want, Got string
}

func (e *ChecksumMismatchError) Error() string {
	hint := "the download was corrupted or the sidecar is wrong; the next attempt downloads again"
	if e.Algorithm == "sha256" {
		hint = "check the charm option " + PinOption + " against the release you mean to install"
	}
	return fmt.Sprintf("%v: %s: %s is %s, expected %s; nothing was installed: %s",
		ErrChecksumMismatch, e.Source, e.Algorithm, e.Got, e.Want, hint)
}

func (e *ChecksumMismatchError) Is(target error) bool { return target == ErrChecksumMismatch }

// ErrBadChecksum is the errors.Is target of a pin or sidecar that is not a
// well-formed digest.
var ErrBadChecksum = errors.New("malformed checksum")

// normalizeHexDigest lowercases sum and checks it is hex of size bytes.
func normalizeHexDigest(sum string, size int, what string) (string, error) {
	s := strings.ToLower(strings.TrimSpace(sum))
	s = strings.TrimPrefix(s, "sha256:")
	s = strings.TrimPrefix(s, "sha1:")
	if len(s) != 2*size {
		return "", fmt.Errorf("%w: %s %q must be %d hex digits", ErrBadChecksum, what, sum, 2*size)
	}
	if _, err := hex.DecodeString(s); err != nil {
		return "", fmt.Errorf("%w: %s %q is not hex", ErrBadChecksum, what, sum)
	}
	return s, nil
}

// parseSidecar takes the first token of a .sha1 file.
func parseSidecar(data []byte) (string, error) {
	fields := strings.Fields(string(data))
	if len(fields) == 0 {
		return "", fmt.Errorf("%w: the sidecar is empty", ErrBadChecksum)
	}
	return normalizeHexDigest(fields[0], sha1.Size, "sidecar SHA-1")
}

// hasher hashes a stream with the algorithms that are expected.
type hasher struct {
	sha1, sha256 hash.Hash
	w            io.Writer
	n            int64
}

func newHasher(want ExpectedSums) *hasher {
	h := &hasher{}
	var ws []io.Writer
	if want.SHA1 != "" {
		h.sha1 = sha1.New()
		ws = append(ws, h.sha1)
	}
	if want.SHA256 != "" {
		h.sha256 = sha256.New()
		ws = append(ws, h.sha256)
	}
	switch len(ws) {
	case 0:
		h.w = io.Discard
	case 1:
		h.w = ws[0]
	default:
		h.w = io.MultiWriter(ws...)
	}
	return h
}

func (h *hasher) Write(p []byte) (int, error) {
	h.n += int64(len(p))
	return h.w.Write(p)
}

func (h *hasher) digests() Digests {
	d := Digests{Bytes: h.n}
	if h.sha1 != nil {
		d.SHA1 = hex.EncodeToString(h.sha1.Sum(nil))
	}
	if h.sha256 != nil {
		d.SHA256 = hex.EncodeToString(h.sha256.Sum(nil))
	}
	return d
}

// verify checks every expected sum; both must match when both are set.
func (want ExpectedSums) verify(source string, got Digests) error {
	if want.SHA1 != "" && got.SHA1 != want.SHA1 {
		return &ChecksumMismatchError{Source: source, Algorithm: "sha1", Want: want.SHA1, Got: got.SHA1}
	}
	if want.SHA256 != "" && got.SHA256 != want.SHA256 {
		return &ChecksumMismatchError{Source: source, Algorithm: "sha256", Want: want.SHA256, Got: got.SHA256}
	}
	return nil
}

// SumReader hashes r to its end with the chosen algorithms, the way a
// download is verified; the CLI uses it to print a pin.
func SumReader(r io.Reader, withSHA1, withSHA256 bool) (Digests, error) {
	var want ExpectedSums
	if withSHA1 {
		want.SHA1 = "wanted"
	}
	if withSHA256 {
		want.SHA256 = "wanted"
	}
	h := newHasher(want)
	if _, err := io.Copy(h, r); err != nil {
		return Digests{}, fmt.Errorf("hash: %w", err)
	}
	return h.digests(), nil
}
