package charm

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"golang.org/x/net/http/httpproxy"

	"github.com/concourse-ci-machine/concourse-ci-machine/concourse"
	"github.com/concourse-ci-machine/concourse-ci-machine/installer"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/version"
	"github.com/concourse-ci-machine/concourse-ci-machine/storage"
)

// DefaultStageWait bounds how long a hook waits for another unit's
// download under the volume lock before it reports it is still waiting and
// ends (its next hook looks again). No hook waits for another unit for good.
const DefaultStageWait = 10 * time.Minute

// VolumeOptions tune the production volume.
type VolumeOptions struct {
	// NoSync skips every fsync: for models that run thousands of hooks on
	// tiny releases, never in production.
	NoSync bool
	// StageWait bounds a wait for the lock while another unit downloads;
	// DefaultStageWait when zero.
	StageWait time.Duration
	// Fetch tunes downloads (proxies, timeouts).
	Fetch storage.FetchOptions
	Now   func() time.Time
}

// OpenVolume opens the volume at root: storage's mechanisms, installer's
// lock-guarded staging.
func OpenVolume(root string, opts VolumeOptions) (Volume, error) {
	var storageOpts []storage.Option
	if opts.NoSync {
		storageOpts = append(storageOpts, storage.WithoutSync())
	}
	if opts.Now != nil {
		storageOpts = append(storageOpts, storage.WithClock(opts.Now))
	}
	if opts.StageWait <= 0 {
		opts.StageWait = DefaultStageWait
	}
	v, err := storage.OpenVolume(root, storageOpts...)
	if err != nil {
		return nil, err
	}
	return &storageVolume{v: v, opts: opts}, nil
}

type storageVolume struct {
	v    *storage.Volume
	opts VolumeOptions
}

func (s *storageVolume) Root() string { return s.v.Root() }

// locked runs fn under the volume lock, waiting at most StageWait.
func (s *storageVolume) locked(ctx context.Context, unit string, fn func(*storage.Lock) error) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.StageWait)
	defer cancel()
	lock, err := s.v.Lock(ctx, storage.Holder{Unit: unit})
	if err != nil {
		return waitingOrErr(err)
	}
	return errors.Join(fn(lock), lock.Release())
}

func (s *storageVolume) Token(ctx context.Context, unit string) (string, error) {
	if id, err := s.v.ReadVolumeID(); !errors.Is(err, storage.ErrNoVolumeID) {
		return id, err
	}
	var id string
	err := s.locked(ctx, unit, func(l *storage.Lock) (err error) {
		id, err = l.EnsureVolumeID()
		return err
	})
	return id, err
}

func (s *storageVolume) Stage(ctx context.Context, req StageRequest) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.StageWait)
	defer cancel()
	source := storage.URLSource(req.URL)
	if req.Resource != "" {
		source = storage.FileSource(req.Resource)
	}
	status := req.Status
	if status == nil {
		status = func(string) {}
	}
	fetch := s.opts.Fetch
	if req.Proxy != (concourse.Proxy{}) {
		fetch.Proxy = ProxyFunc(req.Proxy)
	}
	_, err := installer.New(s.v, installer.Options{
		Unit:      req.Unit,
		FetchSpec: storage.FetchSpec{Source: source, SHA256: req.SHA256, SpaceNeeded: req.Space, Fetch: fetch},
		Keep:      req.Keep, Protected: req.Protect, NoSync: s.opts.NoSync, Now: s.opts.Now, OnStatus: status,
	}).Stage(ctx, req.Version)
	return waitingOrErr(err)
}

func (s *storageVolume) Staged(v version.Version) bool { return s.v.IsStaged(v) }

func (s *storageVolume) ReleaseDir(v version.Version) string { return s.v.ReleaseDir(v) }

func (s *storageVolume) SwitchCurrent(ctx context.Context, unit string, v version.Version, revision uint64) error {
	return s.locked(ctx, unit, func(l *storage.Lock) error { return l.SwitchCurrent(v, revision) })
}

func (s *storageVolume) Current() (version.Version, uint64, error) {
	cur, err := s.v.CurrentVersion()
	if err != nil {
		return version.Version{}, 0, err
	}
	fence, err := s.v.CurrentFence()
	return cur, fence.Revision, err
}

func (s *storageVolume) UseRelease(ctx context.Context, unit string, v version.Version) error {
	if v.IsZero() {
		return s.v.ClearUnitRelease(unit)
	}
	if used, err := s.v.UnitReleases(); err == nil && used[unit] == v {
		return nil
	}
	return s.locked(ctx, unit, func(l *storage.Lock) error { return l.SetUnitRelease(unit, v) })
}

func (s *storageVolume) WorkerDir(unit string) (string, error) { return s.v.WorkerDir(unit) }

func (s *storageVolume) KeysDir() string { return s.v.Path(storage.KeysDir) }

func (s *storageVolume) WithLock(ctx context.Context, unit string, fn func() error) error {
	return s.locked(ctx, unit, func(*storage.Lock) error { return fn() })
}

// WorkerFilesystem reports the volume's filesystem: worker directories
// live on it (workers/<unit>).
func (s *storageVolume) WorkerFilesystem(unit string) (Filesystem, error) {
	fs, err := s.v.FSInfo()
	if err != nil {
		return Filesystem{}, err
	}
	return Filesystem{Type: fs.Type, Network: fs.Network}, nil
}

// ProxyFunc picks the proxy for a request from the model's proxy settings
// with the rules of Go's HTTP_PROXY, HTTPS_PROXY and NO_PROXY (the same
// code, golang.org/x/net/http/httpproxy, that net/http vendors).
func ProxyFunc(p concourse.Proxy) func(*http.Request) (*url.URL, error) {
	pick := (&httpproxy.Config{HTTPProxy: p.HTTP, HTTPSProxy: p.HTTPS, NoProxy: p.NoProxy}).ProxyFunc()
	return func(r *http.Request) (*url.URL, error) { return pick(r.URL) }
}

// StillWaitingError says another unit held the volume lock for the whole
// wait: nothing failed, the next hook looks again.
type StillWaitingError struct {
	Locked *storage.LockedError
}

func (e *StillWaitingError) Error() string {
	return fmt.Sprintf("still waiting for the volume lock: %v", e.Locked)
}

// waitingOrErr turns a wait that ran out while another unit held the lock
// into a *StillWaitingError.
func waitingOrErr(err error) error {
	var locked *storage.LockedError
	if err != nil && errors.Is(err, context.DeadlineExceeded) && errors.As(err, &locked) {
		return &StillWaitingError{Locked: locked}
	}
	return err
}
