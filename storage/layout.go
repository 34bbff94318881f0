package storage

import (
	"io/fs"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/fsutil"
)

// Names on the shared volume. Every on-volume name lives here and nowhere else.
const (
	LockFile             = ".lock"                 // flock target, never removed
	LockHolderFile       = ".lock.holder"          // JSON Holder, written by the holder after flock succeeds
	InstalledVersionFile = ".installed_version"    // JSON InstalledVersion: what `current` was last switched to, written after the link
	CurrentFenceFile     = ".current_fence"        // JSON Fence: the highest revision that switched `current`, written before the link
	ProgressFile         = ".download_in_progress" // JSON Progress
	VolumeIDFile         = ".volume_id"            // sharing-proof token
	ReleasesDir          = "releases"              // releases/<version>/, 0755, immutable once verified
	PartialInfix         = ".partial-"             // releases/<version>.partial-<random>/ while unpacking
	ReleaseInfoFile      = ".release.json"         // releases/<version>/.release.json: version, checksum, source; written before the rename
	CurrentLink          = "current"               // symlink -> releases/<version>
	KeysDir              = "keys"                  // 0700
	WorkersDir           = "workers"               // workers/<app>-<N>/ 0700, one per unit
	UnitReleaseFile      = "release.json"          // workers/<app>-<N>/release.json: the release the unit's services run

	// TempInfix marks atomic writes' temporary files: <name>.tmp-atomic-<random>.
	// A lock holder removes strays of these from the volume root and releases/.
	TempInfix = fsutil.TempInfix
	// ProbePrefix names the file OpenVolume writes and removes to prove the
	// volume is writable; a lock holder removes strays of these too.
	ProbePrefix = ".write-probe-"
)

// Modes of the layout and of every file the charm writes on the volume. They
// are set with an explicit chmod so that the process umask cannot change
// them.
const (
	ReleasesMode  = 0o755
	KeysMode      = 0o700
	WorkersMode   = 0o755 // the parent; each unit's own directory is WorkerDirMode
	WorkerDirMode = 0o700
	// FileMode is the mode of the lock file and of every marker: readable
	// by the services' users, written only by root.
	FileMode = 0o644
	// ReleaseDirMode is the mode of a directory inside a release that the
	// archive does not list, and of releases/<version> itself.
	ReleaseDirMode = 0o755
)

// layoutDir is one directory of the volume's layout and its mode.
type layoutDir struct {
	name string
	mode fs.FileMode
}

// layoutDirs lists the layout's directories: opening, creating and
// inspecting a volume all walk this one list.
func layoutDirs() []layoutDir {
	return []layoutDir{{ReleasesDir, ReleasesMode}, {KeysDir, KeysMode}, {WorkersDir, WorkersMode}}
}

// MinFreeBytes is the free space below which Inspect warns that the next
// release may not fit (an unpacked Concourse release is several hundred MiB).
const MinFreeBytes = 1 << 30
