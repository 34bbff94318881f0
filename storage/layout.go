package storage

import (
	"io/fs"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/fsutil"
)

// Names on the shared volume. Every on-volume name lives here and nowhere else.
const (
	LockFile             = ".lock"                 // flock target, never removed
	LockHolderFile       = ".lock.holder"          // JSON Holder, written by the holder after flock succeeds
	InstalledVersionFile = ".installed_version"    // JSON InstalledVersion, written last
	ProgressFile         = ".download_in_progress" // JSON Progress
	VolumeIDFile         = ".volume_id"            // sharing-proof token
	ReleasesDir          = "releases"              // releases/<version>/, 0755, immutable once verified
	PartialInfix         = ".partial-"             // releases/<version>.partial-<random>/ while unpacking
	ReleaseInfoFile      = ".release.json"         // releases/<version>/.release.json: version, checksum, source; written before the rename
	CurrentLink          = "current"               // symlink -> releases/<version>
	KeysDir              = "keys"                  // 0700
	WorkersDir           = "workers"               // workers/<unit-with-slash-replaced>/ 0700

	// TempInfix marks WriteFileAtomic's temporary files: <name>.tmp-atomic-<random>.
	// A lock holder removes strays of these from the volume root and releases/.
	TempInfix = fsutil.TempInfix
	// ProbePrefix names the file OpenVolume writes and removes to prove the
	// volume is writable; a lock holder removes strays of these too.
	ProbePrefix = ".write-probe-"
)

// Modes of the layout. They are set with an explicit chmod so that the
// process umask cannot weaken them.
const (
	ReleasesMode  = 0o755
	KeysMode      = 0o700
	WorkersMode   = 0o755 // the parent; each unit's own directory is WorkerDirMode
	WorkerDirMode = 0o700
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

// StorageName is the Juju storage the charm asks for; error messages tell
// operators to attach it when the volume is missing.
const StorageName = "concourse-data"

// MinFreeBytes is the free space below which Inspect warns that the next
// release will not fit (an unpacked Concourse release is several hundred MiB
// and the tarball sits next to it while unpacking).
const MinFreeBytes = 1 << 30
