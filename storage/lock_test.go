package storage

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTryLockRecordsHolderAndReleaseIsIdempotent(t *testing.T) {
	t.Parallel()
	v := testVolume(t, clockAt(testEpoch))
	l, err := v.TryLock(Holder{Unit: "concourse/0"})
	require.NoError(t, err)
	assert.Nil(t, l.Recovered(), "a clean volume has nothing to recover")
	assert.Empty(t, l.Removed())

	want := Holder{Unit: "concourse/0", PID: os.Getpid(), Host: hostname(t), Since: testEpoch}
	assert.Equal(t, want, l.Holder())
	h, err := v.Holder()
	require.NoError(t, err)
	require.NotNil(t, h)
	assert.Equal(t, want.Unit, h.Unit)
	assert.Equal(t, want.PID, h.PID)
	assert.Equal(t, want.Host, h.Host)
	assert.True(t, want.Since.Equal(h.Since))
	assert.FileExists(t, v.Path(LockFile))

	require.NoError(t, l.Release())
	require.NoError(t, l.Release(), "a second Release is a no-op")
	assert.NoFileExists(t, v.Path(LockHolderFile))
	assert.FileExists(t, v.Path(LockFile), "the lock file is never removed")
	h, err = v.Holder()
	require.NoError(t, err)
	assert.Nil(t, h)

	l2, err := v.TryLock(Holder{Unit: "concourse/1"})
	require.NoError(t, err, "free again after Release")
	require.NoError(t, l2.Release())
}

func TestTryLockKeepsCallerSuppliedHolderFields(t *testing.T) {
	t.Parallel()
	v := testVolume(t)
	who := Holder{Unit: "web/2", PID: 4242, Host: "machine-7", Since: testEpoch}
	l, err := v.TryLock(who)
	require.NoError(t, err)
	defer l.Release()
	assert.Equal(t, who, l.Holder())
}

func TestTryLockRefusesBadUnitName(t *testing.T) {
	t.Parallel()
	v := testVolume(t)
	_, err := v.TryLock(Holder{Unit: "../../etc/0"})
	requireValueError(t, err, FieldUnitName)
	assert.NoFileExists(t, v.Path(LockHolderFile))
	l, err := v.TryLock(Holder{}) // no unit: an operator's CLI run
	require.NoError(t, err)
	require.NoError(t, l.Release())
}

// Two opens of the lock file in one process conflict, so a second TryLock
// sees the first holder.
func TestTryLockReportsCurrentHolder(t *testing.T) {
	t.Parallel()
	v := testVolume(t, clockAt(testEpoch.Add(90*time.Second)))
	holder := Holder{Unit: "concourse/3", PID: 777, Host: "box", Since: testEpoch}
	l, err := v.TryLock(holder)
	require.NoError(t, err)
	defer l.Release()

	_, err = v.TryLock(Holder{Unit: "concourse/4"})
	requireLocked(t, err)
	var locked *LockedError
	require.ErrorAs(t, err, &locked)
	require.NotNil(t, locked.Holder)
	assert.Equal(t, "concourse/3", locked.Holder.Unit)
	assert.Equal(t, 777, locked.Holder.PID)
	assert.Nil(t, locked.Progress)
	assert.False(t, locked.Stuck)
	assert.Equal(t, "shared volume "+v.Root()+" is locked by concourse/3 (pid 777 on host box) for 1m30s", err.Error())
}

func TestLockedErrorWithoutHolderRecord(t *testing.T) {
	t.Parallel()
	v := testVolume(t)
	l, err := v.TryLock(Holder{Unit: "a/0"})
	require.NoError(t, err)
	defer l.Release()
	// As between a holder's flock and its record being written.
	require.NoError(t, os.Remove(v.Path(LockHolderFile)))
	_, err = v.TryLock(Holder{Unit: "a/1"})
	var locked *LockedError
	require.ErrorAs(t, err, &locked)
	assert.Nil(t, locked.Holder)
	assert.Contains(t, err.Error(), "has not written .lock.holder")
	h, err := v.Holder()
	require.NoError(t, err)
	assert.Nil(t, h, "held but unknown")
}

func TestHolderRecordCorrupt(t *testing.T) {
	t.Parallel()
	v := testVolume(t)
	l, err := v.TryLock(Holder{Unit: "a/0"})
	require.NoError(t, err)
	defer l.Release()
	putFile(t, v.Path(LockHolderFile), "{garbage")

	_, err = v.Holder()
	require.True(t, isType[*CorruptMarkerError](err), "%v", err)
	assert.Contains(t, err.Error(), v.Path(LockHolderFile))

	_, err = v.TryLock(Holder{Unit: "a/1"})
	var locked *LockedError
	require.ErrorAs(t, err, &locked, "contention is still reported")
	assert.Nil(t, locked.Holder)
}

// Goroutines contend for real: never two inside at once, and every attempt
// gets its turn. Inside the lock each one increments a counter kept in a file
// on the volume with a read, a yield and a write: without exclusion updates
// get lost (the file, not a Go variable, so that the race detector does not
// need to understand flock).
func TestLockExcludesGoroutines(t *testing.T) {
	t.Parallel()
	v := testVolume(t, WithLockPoll(50*time.Microsecond, time.Millisecond))
	counter := v.Path("counter")
	require.NoError(t, os.WriteFile(counter, make([]byte, 8), 0o644))
	const workers, rounds = 8, 40
	var inside, maxInside atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f, err := os.OpenFile(counter, os.O_RDWR, 0)
			if err != nil {
				errs <- err
				return
			}
			defer f.Close()
			for range rounds {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // deadlock guard
				l, err := v.Lock(ctx, Holder{Unit: fmt.Sprintf("g/%d", w)})
				cancel()
				if err != nil {
					errs <- err
					return
				}
				n := inside.Add(1)
				for m := maxInside.Load(); n > m && !maxInside.CompareAndSwap(m, n); m = maxInside.Load() {
				}
				err = incrementSlowly(f)
				inside.Add(-1)
				if err := errors.Join(err, l.Release()); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Equal(t, int64(1), maxInside.Load(), "two goroutines held the lock at once")
	data, err := os.ReadFile(counter)
	require.NoError(t, err)
	assert.Equal(t, workers*rounds, int(binary.LittleEndian.Uint64(data)), "updates were lost")
}

// incrementSlowly adds one to the counter in f, yielding between the read
// and the write so that an unprotected concurrent increment is lost.
func incrementSlowly(f *os.File) error {
	buf := make([]byte, 8)
	if _, err := f.ReadAt(buf, 0); err != nil {
		return err
	}
	n := binary.LittleEndian.Uint64(buf)
	runtime.Gosched()
	binary.LittleEndian.PutUint64(buf, n+1)
	_, err := f.WriteAt(buf, 0)
	return err
}

// When the context ends first, the error wraps both the context's error and
// the last LockedError.
func TestLockGivesUpWhenContextEnds(t *testing.T) {
	t.Parallel()
	root := testVolume(t).Root()
	holderVol, err := OpenVolume(root)
	require.NoError(t, err)
	l, err := holderVol.TryLock(Holder{Unit: "holder/0"})
	require.NoError(t, err)
	defer l.Release()

	// The deadline passes when the waiter finds the lock held (its clock is
	// read then), and the waiter would otherwise poll again only in an
	// hour: it must give up because the context ended.
	ctx := newExpiringContext()
	v, err := OpenVolume(root, WithLockPoll(time.Hour, time.Hour), WithClock(func() time.Time {
		ctx.expire()
		return time.Now()
	}))
	require.NoError(t, err)
	_, err = v.Lock(ctx, Holder{Unit: "waiter/0"})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	requireLocked(t, err)
	var locked *LockedError
	require.ErrorAs(t, err, &locked)
	assert.Equal(t, "holder/0", locked.Holder.Unit)
	assert.Contains(t, err.Error(), "gave up waiting for the lock on "+v.Root())

	cancelled, cancelNow := context.WithCancel(context.Background())
	cancelNow()
	_, err = v.Lock(cancelled, Holder{Unit: "waiter/0"})
	require.ErrorIs(t, err, context.Canceled)
}

// expiringContext is a context whose deadline passes when expire is called,
// not after some time that a loaded machine may spend elsewhere.
type expiringContext struct {
	context.Context
	once sync.Once
	done chan struct{}
}

func newExpiringContext() *expiringContext {
	return &expiringContext{Context: context.Background(), done: make(chan struct{})}
}

func (c *expiringContext) expire() { c.once.Do(func() { close(c.done) }) }

func (c *expiringContext) Done() <-chan struct{} { return c.done }

func (c *expiringContext) Err() error {
	select {
	case <-c.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

// Lock keeps polling through contention and gets the lock once the holder
// releases it.
func TestLockWaitsForRelease(t *testing.T) {
	t.Parallel()
	root := testVolume(t).Root()
	holderVol, err := OpenVolume(root)
	require.NoError(t, err)
	first, err := holderVol.TryLock(Holder{Unit: "first/0"})
	require.NoError(t, err)

	// The waiter's clock is read when it finds the lock held: that tells
	// this test that Lock is inside its polling loop.
	contended := make(chan struct{}, 1)
	clock := WithClock(func() time.Time {
		select {
		case contended <- struct{}{}:
		default:
		}
		return testEpoch
	})
	waiterVol, err := OpenVolume(root, clock, WithLockPoll(time.Millisecond, 5*time.Millisecond))
	require.NoError(t, err)
	got := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // deadlock guard
		defer cancel()
		l, err := waiterVol.Lock(ctx, Holder{Unit: "second/0", Since: testEpoch})
		if err == nil {
			err = l.Release()
		}
		got <- err
	}()
	<-contended
	require.NoError(t, first.Release())
	require.NoError(t, <-got)
}

func TestWithLockPoll(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name              string
		initial, max      time.Duration
		wantInit, wantMax time.Duration
	}{
		{"defaults kept", 0, 0, DefaultLockPollInitial, DefaultLockPollMax},
		{"both set", time.Millisecond, time.Second, time.Millisecond, time.Second},
		{"max below initial is raised", time.Second, time.Millisecond, time.Second, time.Second},
		{"negative ignored", -1, -1, DefaultLockPollInitial, DefaultLockPollMax},
	}
	for _, tc := range tests {
		c := newConfig([]Option{WithLockPoll(tc.initial, tc.max)})
		assert.Equal(t, tc.wantInit, c.pollInitial, tc.name)
		assert.Equal(t, tc.wantMax, c.pollMax, tc.name)
	}
}

func TestLockWritersFailAfterRelease(t *testing.T) {
	t.Parallel()
	v := testVolume(t)
	l, err := v.TryLock(Holder{Unit: "a/0"})
	require.NoError(t, err)
	stageFakeRelease(t, v, "1.0.0")
	require.NoError(t, l.Release())

	require.ErrorIs(t, l.WriteProgress(ver("1.0.0")), ErrLockReleased)
	require.ErrorIs(t, l.ClearProgress(), ErrLockReleased)
	require.ErrorIs(t, l.SwitchCurrent(ver("1.0.0"), 1), ErrLockReleased)
	require.ErrorIs(t, l.SetUnitRelease("a/0", ver("1.0.0")), ErrLockReleased)
	_, err = l.FetchRelease(context.Background(), ver("1.0.0"), FetchSpec{SHA256: strings.Repeat("0", 64), Source: FileSource("/nonexistent")})
	require.ErrorIs(t, err, ErrLockReleased)
	_, err = l.EnsureVolumeID()
	require.ErrorIs(t, err, ErrLockReleased)
	for _, name := range []string{ProgressFile, InstalledVersionFile, CurrentFenceFile, CurrentLink, VolumeIDFile, filepath.Join(WorkersDir, "a-0")} {
		assert.NoFileExists(t, v.Path(name))
	}
}

func hostname(t *testing.T) string {
	t.Helper()
	h, err := os.Hostname()
	require.NoError(t, err)
	return h
}

// Waiters poll a held lock with short waits that grow to DefaultLockPollMax
// (100 ms) and are each jittered down to half, so that a waiter learns soon
// that the lock is free and many waiters do not look in step.
func TestLockPollIsShortGrowingAndJittered(t *testing.T) {
	t.Parallel()
	v := testVolume(t)
	var nominal []time.Duration
	v.cfg.jitter = func(d time.Duration) time.Duration { nominal = append(nominal, d); return 0 }
	p := v.newPacer()
	for range 7 {
		require.NoError(t, p.wait(context.Background()))
	}
	ms := time.Millisecond
	assert.Equal(t, []time.Duration{10 * ms, 20 * ms, 40 * ms, 80 * ms, 100 * ms, 100 * ms, 100 * ms}, nominal)

	jitter := newConfig(nil).jitter
	seen := map[time.Duration]bool{}
	for range 200 {
		d := jitter(100 * ms)
		assert.GreaterOrEqual(t, d, 50*ms)
		assert.LessOrEqual(t, d, 100*ms)
		seen[d] = true
	}
	assert.Greater(t, len(seen), 100, "waits are spread, not in step")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, testVolume(t).newPacer().wait(ctx), context.Canceled)
}

// LockUnless asks done before every attempt, without the lock: a waiter
// whose release appears stops waiting and never takes the lock; onBusy sees
// every attempt that found the lock held.
func TestLockUnlessStopsWhenDone(t *testing.T) {
	t.Parallel()
	root := testVolume(t).Root()
	held, err := testVolumeAt(t, root).TryLock(Holder{Unit: "holder/0"})
	require.NoError(t, err)
	defer held.Release()

	waiter := testVolumeAt(t, root, WithLockPoll(time.Millisecond, time.Millisecond))
	busy := 0
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // deadlock guard
	defer cancel()
	l, err := waiter.LockUnless(ctx, Holder{Unit: "waiter/0"},
		func() (bool, error) { return busy == 3, nil },
		func(locked *LockedError) {
			busy++
			assert.Equal(t, "holder/0", locked.Holder.Unit)
		})
	require.NoError(t, err)
	assert.Nil(t, l, "done: no lock")
	assert.Equal(t, 3, busy)

	l, err = waiter.LockUnless(ctx, Holder{}, func() (bool, error) { return false, errors.New("cannot tell") }, nil)
	assert.Nil(t, l)
	assert.EqualError(t, err, "cannot tell")

	require.NoError(t, held.Release())
	l, err = waiter.LockUnless(ctx, Holder{Unit: "waiter/0"}, func() (bool, error) { return false, nil }, nil)
	require.NoError(t, err)
	require.NotNil(t, l, "not done and free: the lock")
	require.NoError(t, l.Release())
}

func testVolumeAt(t *testing.T, root string, opts ...Option) *Volume {
	t.Helper()
	v, err := OpenVolume(root, opts...)
	require.NoError(t, err)
	return v
}
