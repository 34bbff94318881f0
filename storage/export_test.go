package storage

import (
	"fmt"
	"io"
)

// Helpers only the tests use.

// Holder says who holds the lock now, per .lock.holder: nil, nil when the
// lock is free or its holder has not written the record (yet: it does so
// after recovering from a dead holder, and may fail to on a full disk). It
// probes the lock without waiting, so a concurrent TryLock may see a
// moment's contention.
func (v *Volume) Holder() (*Holder, error) {
	held, err := probeLock(v.Path(LockFile))
	if err != nil || !held {
		return nil, err
	}
	return v.readHolder()
}

// sumReader hashes r to its end with the chosen algorithms, the way a
// download is verified.
func sumReader(r io.Reader, withSHA1, withSHA256 bool) (Digests, error) {
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

// writeProbe runs OpenVolume's write probe on v again: a *VolumeError
// matching ErrVolumeFull when v has no space left.
func writeProbe(v *Volume) error { return probeWritable(v.root, v.cfg.noSync) }
