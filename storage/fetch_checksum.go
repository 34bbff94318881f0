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

// normalizeHexDigest lowercases sum, drops its algo prefix ("sha256",
// "sha1") if it has one, and checks the rest is hex of size bytes; it
// returns why not as a reason. Another algorithm's prefix is not dropped, so
// a mislabelled digest is refused.
func normalizeHexDigest(sum, algo string, size int) (string, string) {
	s := strings.ToLower(strings.TrimSpace(sum))
	s = strings.TrimPrefix(s, algo+":")
	if len(s) != 2*size {
		return "", fmt.Sprintf("it must be %d hex digits", 2*size)
	}
	if _, err := hex.DecodeString(s); err != nil {
		return "", "it is not hex"
	}
	return s, ""
}

// parsePin reads an operator's SHA-256 pin ("<hex>" or "sha256:<hex>", any
// case).
func parsePin(pin string) (string, error) {
	sum, reason := normalizeHexDigest(pin, "sha256", sha256.Size)
	if reason != "" {
		return "", &ValueError{Field: FieldPin, Value: pin, Reason: reason}
	}
	return sum, nil
}

// parseSidecar takes the first token of a .sha1 file.
func parseSidecar(data []byte) (string, error) {
	fields := strings.Fields(string(data))
	if len(fields) == 0 {
		return "", errors.New("the sidecar is empty")
	}
	sum, reason := normalizeHexDigest(fields[0], "sha1", sha1.Size)
	if reason != "" {
		return "", fmt.Errorf("the sidecar's SHA-1 %q: %s", fields[0], reason)
	}
	return sum, nil
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
