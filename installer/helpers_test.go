package installer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/concourse-ci-machine/concourse-ci-machine/fsm"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/version"
	"github.com/concourse-ci-machine/concourse-ci-machine/storage"
	"github.com/concourse-ci-machine/concourse-ci-machine/storage/releasetest"
)

// deadlockGuard bounds tests that wait on other goroutines or processes; it
// is never what a test measures.
const deadlockGuard = 2 * time.Minute

var testEpoch = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// ver parses a version constant.
func ver(s string) version.Version { return version.MustParse(s) }

// recorder collects what an Installer reports. It is safe for concurrent use.
type recorder struct {
	mu     sync.Mutex
	steps  []fsm.InstallStep
	status []string
	logs   []string
}

func (r *recorder) step(s fsm.InstallStep) { r.mu.Lock(); r.steps = append(r.steps, s); r.mu.Unlock() }
func (r *recorder) stat(m string)          { r.mu.Lock(); r.status = append(r.status, m); r.mu.Unlock() }
func (r *recorder) logf(f string, a ...any) {
	r.mu.Lock()
	r.logs = append(r.logs, fmt.Sprintf(f, a...))
	r.mu.Unlock()
}

func (r *recorder) events() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, s := range r.steps {
		out = append(out, s.Event)
	}
	return out
}

func (r *recorder) statuses() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.status...)
}

func (r *recorder) logged(part string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range r.logs {
		if strings.Contains(l, part) {
			return true
		}
	}
	return false
}

// testFetch never sleeps between retries and times out a stalled body
// quickly.
func testFetch() storage.FetchOptions {
	return storage.FetchOptions{
		ConnectTimeout: 5 * time.Second,
		ReadTimeout:    200 * time.Millisecond,
		RetryDelay:     time.Second,
		Jitter:         func(d time.Duration) time.Duration { return d },
		Sleep:          func(ctx context.Context, _ time.Duration) error { return ctx.Err() },
	}
}

// testOpts are fast test options reporting into rec.
func testOpts(unit, baseURL string, rec *recorder) Options {
	return Options{
		Unit:      unit,
		FetchSpec: storage.FetchSpec{BaseURL: baseURL, Fetch: testFetch()},
		OnStep:    rec.step,
		OnStatus:  rec.stat,
		Logf:      rec.logf,
	}
}

// openVolume opens root, failing the test on error.
func openVolume(t testing.TB, root string, opts ...storage.Option) *storage.Volume {
	t.Helper()
	v, err := storage.OpenVolume(root, opts...)
	require.NoError(t, err)
	return v
}

// assertNoPartials checks that releases/ holds only complete releases.
func assertNoPartials(t *testing.T, v *storage.Volume) {
	t.Helper()
	entries, err := os.ReadDir(v.Path(storage.ReleasesDir))
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	require.NoError(t, err)
	for _, e := range entries {
		assert.NotContains(t, e.Name(), storage.PartialInfix, "left behind")
		assert.NotContains(t, e.Name(), storage.TempInfix, "left behind")
	}
}

// assertCurrent checks that `current` and the installed marker name want
// ("" for neither).
func assertCurrent(t *testing.T, v *storage.Volume, want string) {
	t.Helper()
	cur, err := v.CurrentVersion()
	require.NoError(t, err)
	assert.Equal(t, want, cur.String(), "current")
	iv, err := v.ReadInstalledVersion()
	require.NoError(t, err)
	if want == "" {
		assert.Nil(t, iv)
		return
	}
	require.NotNil(t, iv)
	assert.Equal(t, want, iv.Version.String(), "installed version")
}

// assertInstalledOnce checks that version was downloaded once and is
// installed on the volume at root, with nothing partial left.
func assertInstalledOnce(t *testing.T, srv *releasetest.Server, root, version string) {
	t.Helper()
	assert.Equal(t, 1, srv.Hits(releasetest.ReleasePath(version)), "exactly one download")
	v := openVolume(t, root)
	assertCurrent(t, v, version)
	assertNoPartials(t, v)
}

// isType tells whether err's chain holds an E.
func isType[E error](err error) bool {
	_, ok := errors.AsType[E](err)
	return ok
}

// holdInstalling takes the lock on root as unit, with a clock stopped at
// at, and writes its progress marker for v, as a unit that downloads does.
func holdInstalling(t testing.TB, root, unit string, at time.Time, v string) *storage.Lock {
	t.Helper()
	held, err := openVolume(t, root, storage.WithClock(func() time.Time { return at })).TryLock(storage.Holder{Unit: unit})
	require.NoError(t, err)
	t.Cleanup(func() { _ = held.Release() })
	require.NoError(t, held.WriteProgress(ver(v)))
	return held
}
