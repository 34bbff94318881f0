package charm

import (
	"context"
	"net/http"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/concourse"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/version"
	"github.com/concourse-ci-machine/concourse-ci-machine/relation"
	"github.com/concourse-ci-machine/concourse-ci-machine/services"
)

// Deps is everything with side effects that a dispatch uses besides its
// hook context: Juju's tools, the machine's systemd, the volume, the clock.
// Production fills it from the environment (see cmd/concourse-ci-machine);
// the multi-unit tests and the demo fill it with a model of Juju and, for
// the model checker, a recorder of services. The charm logic is the same.
type Deps struct {
	Juju     relation.Juju
	Services Services
	// OpenVolume opens the volume at root (the storage location, or the
	// unit's own subdirectory of it when sharing is off).
	OpenVolume func(root string) (Volume, error)
	// StateDir is this unit's machine-local directory: environment files,
	// what the charm installed, the leader's clock readings.
	StateDir string
	// Clock is the unit's clock.
	Clock func() time.Time
	// Binary is the path of the charm's own executable, which unit files
	// run as the worker's drain helper.
	Binary string
	// Environ gives the charm's settings from its environment (proxies,
	// overrides for a local harness); os.Getenv in production.
	Environ func(string) string
	// KeyBits is the size of the cluster's RSA keys when the charm
	// generates them; concourse.DefaultKeyBits when zero. Models that
	// deploy hundreds of clusters use smaller keys; production never does.
	KeyBits int
	// ConcourseAPI says how a unit reaches its own web's API (web listens
	// on webPort): the base URL and the HTTP client. Nil: the loopback
	// address, http://127.0.0.1:PORT, with a client whose requests time
	// out in a few seconds (see defaultConcourseAPI).
	ConcourseAPI func(webPort int) (baseURL string, client *http.Client)
	// Host is where the charm looks at its machine besides systemd (see
	// Host).
	Host Host
}

// Volume is where a unit's releases live: the shared volume, or the unit's
// own copy. Production: storage and installer.
type Volume interface {
	Root() string
	// Token is the volume's sharing token, created once under the lock.
	Token(ctx context.Context, unit string) (string, error)
	// Stage makes releases/<v> present and verified, downloading it only
	// when no unit has (double-checked under the volume lock). It calls
	// status with lines worth showing while it works or waits.
	Stage(ctx context.Context, req StageRequest) error
	// Staged reports whether releases/<v> is complete and verified.
	Staged(v version.Version) bool
	// ReleaseDir is the immutable releases/<v> directory.
	ReleaseDir(v version.Version) string
	// SwitchCurrent points `current` at v, fenced: a revision older than
	// one already switched under is refused.
	SwitchCurrent(ctx context.Context, unit string, v version.Version, revision uint64) error
	// Current is what `current` names and the highest revision switched
	// under (zero values when never switched).
	Current() (version.Version, uint64, error)
	// UseRelease records that unit's services run v (zero: none), so that
	// pruning keeps it.
	UseRelease(ctx context.Context, unit string, v version.Version) error
	// WorkerDir is the unit's own worker directory, created if needed.
	WorkerDir(unit string) (string, error)
	// KeysDir holds the cluster's keys (0700).
	KeysDir() string
	// WithLock runs fn while unit holds the volume lock (waiting for it
	// as Stage does): what fn writes on the volume, no other unit writes
	// at the same time.
	WithLock(ctx context.Context, unit string, fn func() error) error
	// WorkerFilesystem is the filesystem the unit's worker directory is
	// on.
	WorkerFilesystem(unit string) (Filesystem, error)
}

// Filesystem is what the charm needs to know of the filesystem under a
// directory.
type Filesystem struct {
	Type string // "ext4", "nfs", "ceph", "fuse", ...
	// Network: a filesystem other machines mount too (NFS, CephFS, FUSE,
	// ...), where baggageclaim's overlay and btrfs drivers do not work.
	Network bool
}

// StageRequest asks for one release on a volume.
type StageRequest struct {
	Unit    string
	Version version.Version
	// URL is the tarball's address; Resource, when set, is a local tarball
	// (an attached charm resource) used instead.
	URL      string
	Resource string
	SHA256   string
	// Space is what must be free (0: the installer's estimate).
	Space int64
	Keep  int
	// Proxy is the model's proxy settings for the download (zero: the
	// volume's default).
	Proxy concourse.Proxy
	// Protect lists releases pruning must keep.
	Protect []version.Version
	Status  func(string)
}

// Services is the machine's systemd, as the charm uses it. Production:
// services.Manager over D-Bus (see Systemd).
type Services interface {
	// Install writes the unit (and its environment file) and reports
	// whether anything changed.
	Install(ctx context.Context, u Unit) (bool, error)
	// Start starts the unit; starting a running unit changes nothing.
	Start(ctx context.Context, name string) error
	// Restart stops (a worker drains first) and starts the unit.
	Restart(ctx context.Context, name string) error
	// Stop stops the unit, a worker after draining, and says how it ended.
	Stop(ctx context.Context, name string) (services.Outcome, error)
	// Retire stops a worker for good: it retires from the ATC. offline is
	// the command that retires it when it is not running.
	Retire(ctx context.Context, name string, offline []string) (services.Outcome, error)
	// SetEnabled enables or disables start at boot (idempotent).
	SetEnabled(ctx context.Context, name string, enabled bool) error
	State(ctx context.Context, name string) (ServiceState, error)
	Uninstall(ctx context.Context, name string) error
}

// Unit is one systemd unit the charm installs.
type Unit struct {
	Name string
	Role Role
	// Release is the release the unit file pins (releases/<v>).
	Release version.Version
	File    []byte
	// EnvPath and Env are its environment file (mode 0600).
	EnvPath string
	Env     map[string]string
}

// ServiceState is what systemd says about a unit.
type ServiceState struct {
	Installed bool
	Active    bool
}
