package storage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/fsutil"
	"golang.org/x/sys/unix"
)

// Holder says who holds the volume lock. The holder writes it to
// .lock.holder once it has taken the flock and cleaned up after a dead
// holder; the record is advisory and may be missing (a full disk).
type Holder struct {
	Unit  string    `json:"unit"`
	PID   int       `json:"pid"`
	Host  string    `json:"host"`
	Since time.Time `json:"since"`
}

// String is "unit (pid N on host H)" for messages.
func (h Holder) String() string {
	unit := h.Unit
	if unit == "" {
		unit = "an unnamed process"
	}
	return fmt.Sprintf("%s (pid %d on host %s)", unit, h.PID, h.Host)
}

// Lock is one holding of the volume's exclusive flock. Its writers only work
// while it is held.
type Lock struct {
	v         *Volume
	holder    Holder
	recovered *Progress
	removed   []string
	holderErr error // set once by afterAcquire

	mu   sync.Mutex
	file *os.File // nil once released
}

// TryLock takes the volume lock without waiting. When another process (or
// another TryLock in this one: each call opens its own file) holds it, it
// returns a *LockedError naming the holder. Right after taking the lock it
// cleans up after a holder that died (see Recovered) and then records who
// holds it (best effort: see HolderRecordError).
func (v *Volume) TryLock(who Holder) (*Lock, error) {
	who, err := v.completeHolder(who)
	if err != nil {
		return nil, err
	}
	f, err := openLockFile(v.Path(LockFile))
	if err != nil {
		return nil, err
	}
	if err := flockNonBlocking(f, unix.LOCK_EX); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, v.lockedError()
		}
		return nil, fmt.Errorf("flock %s: %w", v.Path(LockFile), err)
	}
	l := &Lock{v: v, holder: who, file: f}
	if err := l.afterAcquire(); err != nil {
		return nil, errors.Join(err, l.Release())
	}
	return l, nil
}

// openLockFile opens (creating) the lock file with its mode set explicitly,
// whatever the umask.
func openLockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_CLOEXEC, FileMode)
	if err != nil {
		return nil, fmt.Errorf("open the volume lock: %w", err)
	}
	fi, err := f.Stat()
	if err == nil && fi.Mode().Perm() != FileMode {
		err = f.Chmod(FileMode)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open the volume lock: %w", err)
	}
	return f, nil
}

// Lock waits for the volume lock until ctx is done (see LockUnless). When
// ctx ends first, the error wraps both ctx's error and the last
// *LockedError.
func (v *Volume) Lock(ctx context.Context, who Holder) (*Lock, error) {
	return v.LockUnless(ctx, who, nil, nil)
}

// LockUnless waits for the volume lock until ctx is done, unless done says
// that what the caller waits for is already in place: then it returns nil,
// nil. done (when set) is asked without the lock before every attempt, so
// waiters that only need to see a finished release do not take the lock in
// turn to look at it. onBusy (when set) sees every attempt that found the
// lock held. Attempts are paced by the volume's lock poll (WithLockPoll):
// short, growing waits, each jittered, so a waiter learns within the poll's
// maximum that the lock is free or its release is in place.
func (v *Volume) LockUnless(ctx context.Context, who Holder, done func() (bool, error), onBusy func(*LockedError)) (*Lock, error) {
	pace := v.newPacer()
	var last *LockedError
	for {
		if err := ctx.Err(); err != nil {
			if last != nil {
				return nil, fmt.Errorf("gave up waiting for the lock on %s: %w: %w", v.root, err, last)
			}
			return nil, fmt.Errorf("waiting for the lock on %s: %w", v.root, err)
		}
		if done != nil {
			if ok, err := done(); ok || err != nil {
				return nil, err
			}
		}
		l, err := v.TryLock(who)
		locked, busy := errors.AsType[*LockedError](err)
		if !busy {
			return l, err
		}
		last = locked
		if onBusy != nil {
			onBusy(locked)
		}
		_ = pace.wait(ctx) // ended by ctx: the check above reports it
	}
}

// pacer spaces the attempts at a busy lock: the volume's initial poll,
// doubled after each miss up to its maximum, each wait jittered.
type pacer struct {
	next, max time.Duration
	jitter    func(time.Duration) time.Duration
}

func (v *Volume) newPacer() *pacer {
	return &pacer{next: v.cfg.pollInitial, max: v.cfg.pollMax, jitter: v.cfg.jitter}
}

// wait sleeps the next jittered interval, or until ctx is done.
func (p *pacer) wait(ctx context.Context) error {
	d := p.jitter(p.next)
	p.next = min(2*p.next, p.max)
	return sleepContext(ctx, d)
}

// completeHolder fills what the caller left out of who.
func (v *Volume) completeHolder(who Holder) (Holder, error) {
	if who.Unit != "" {
		if err := validateUnitName(who.Unit); err != nil {
			return who, err
		}
	}
	if who.PID == 0 {
		who.PID = os.Getpid()
	}
	if who.Host == "" {
		who.Host, _ = os.Hostname()
	}
	if who.Since.IsZero() {
		who.Since = v.cfg.now()
	}
	return who, nil
}

// afterAcquire publishes the holder record and cleans up after a dead
// holder. A dead holder's partial release may have filled the disk, so a
// record that cannot be written is written again after the recovery. The
// record is advisory (it only names the holder in messages), so failing to
// write it keeps the lock: the error is kept for HolderRecordError.
func (l *Lock) afterAcquire() error {
	// Name ourselves at once so waiters can say who holds the lock; the
	// atomic write replaces any record a dead holder left. On a full disk
	// it fails, and the recovery below may free the space: then drop the
	// dead holder's record (it names someone who no longer holds the lock),
	// recover, and write ours again.
	first := l.writeHolder()
	if first != nil {
		if err := fsutil.RemoveIfExists(l.v.Path(LockHolderFile)); err != nil {
			l.holderErr = fmt.Errorf("remove the stale lock holder record: %w", err)
		}
	}
	if err := l.recoverStale(); err != nil {
		return err
	}
	if first != nil {
		if err := l.writeHolder(); err != nil {
			l.holderErr = errors.Join(l.holderErr, err)
		}
	}
	return nil
}

// writeHolder writes the holder record. On failure no record is left, so an
// old one never names a former holder.
func (l *Lock) writeHolder() error {
	data, err := encodeMarker(l.holder)
	if err != nil {
		return fmt.Errorf("record the lock holder: %w", err)
	}
	// The lock dies with the machine anyway: no fsync on the lock path, and a
	// named temporary file, which is cheaper than O_TMPFILE on ext4 (a stray
	// one is cleaned up by the next holder).
	w := l.v.cfg.atomic
	w.NoSync = true
	w.PlainTemp = true
	if err := w.WriteFile(l.v.Path(LockHolderFile), data, FileMode); err != nil {
		_ = fsutil.RemoveIfExists(l.v.Path(LockHolderFile))
		return fmt.Errorf("record the lock holder (the lock is held all the same; others see an unnamed holder): %w", err)
	}
	return nil
}

// HolderRecordError is why this acquisition could not publish its holder
// record (for example ENOSPC on a full volume), for the caller to log; nil
// when the record was written. The lock is held either way.
func (l *Lock) HolderRecordError() error { return l.holderErr }

// Holder is the record this Lock wrote (or tried to write).
func (l *Lock) Holder() Holder { return l.holder }

// Recovered is the progress marker a previous holder left behind, which this
// acquisition removed together with its partial data; nil when there was
// none. Its fields are zero if the marker was unreadable.
func (l *Lock) Recovered() *Progress { return l.recovered }

// Removed lists the paths this acquisition cleaned up (marker, partial
// release directories, stray temporary files), for logs.
func (l *Lock) Removed() []string { return append([]string(nil), l.removed...) }

// Release removes the holder record, unlocks and closes. It is idempotent.
func (l *Lock) Release() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.file == nil {
		return nil
	}
	f := l.file
	l.file = nil
	// Remove the record before unlocking, so it never names a former holder
	// while someone else holds the lock.
	errRecord := fsutil.RemoveIfExists(l.v.Path(LockHolderFile))
	errUnlock := unix.Flock(int(f.Fd()), unix.LOCK_UN)
	errClose := f.Close()
	if err := errors.Join(errRecord, errUnlock, errClose); err != nil {
		return fmt.Errorf("release the lock on %s: %w", l.v.root, err)
	}
	return nil
}

// stillHeld returns ErrLockReleased once the lock is released.
func (l *Lock) stillHeld() error { return l.held(func() error { return nil }) }

// held runs fn while the lock is held, or returns ErrLockReleased.
func (l *Lock) held(fn func() error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.file == nil {
		return ErrLockReleased
	}
	return fn()
}

// readHolder reads the holder record, whoever holds the lock.
func (v *Volume) readHolder() (*Holder, error) {
	return readMarkerPtr[Holder](v.Path(LockHolderFile), nil)
}

// probeLock reports whether someone holds the flock on path, without
// creating the file or keeping the lock.
func probeLock(path string) (bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("probe the volume lock: %w", err)
	}
	defer f.Close()
	err = flockNonBlocking(f, unix.LOCK_SH)
	switch {
	case errors.Is(err, unix.EWOULDBLOCK):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("probe the volume lock %s: %w", path, err)
	}
	return false, unix.Flock(int(f.Fd()), unix.LOCK_UN)
}

func flockNonBlocking(f *os.File, how int) error {
	for {
		err := unix.Flock(int(f.Fd()), how|unix.LOCK_NB)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// lockedError describes the current holder, reading what it left on the
// volume. Unreadable records leave the fields nil rather than hide the
// contention.
func (v *Volume) lockedError() *LockedError {
	e := &LockedError{Root: v.root, At: v.cfg.now()}
	e.Holder, _ = v.readHolder()
	e.Progress, _ = v.ReadProgress()
	e.Stuck = isStuck(e.Progress, e.At)
	return e
}

// isStuck applies the stuck rule to a progress marker of a held lock.
func isStuck(p *Progress, now time.Time) bool {
	return p != nil && now.Sub(p.Started) > StuckAfter
}

// roundDuration keeps messages readable: whole seconds, never negative
// (clocks of different hosts may disagree).
func roundDuration(d time.Duration) time.Duration {
	if d < 0 {
		return 0
	}
	return d.Round(time.Second)
}
