package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/bytesize"
)

// Report is what Inspect finds on a volume, for operators (the inspect
// command prints it) and for status messages.
type Report struct {
	Root        string            `json:"root"`
	At          time.Time         `json:"at"`
	Initialised bool              `json:"initialised"` // the layout directories exist
	FS          FSInfo            `json:"fs"`
	Installed   *InstalledVersion `json:"installed_version"`
	Fence       *Fence            `json:"fence"`
	Releases    []ReleaseEntry    `json:"releases"`
	Current     string            `json:"current"` // target of the current symlink as stored; "" when absent
	Lock        LockReport        `json:"lock"`
	Progress    *ProgressReport   `json:"progress"`
	Workers     []WorkerEntry     `json:"workers"`
	VolumeID    string            `json:"volume_id"`
	Problems    []Problem         `json:"problems"`
}

// ReleaseEntry is one directory under releases/.
type ReleaseEntry struct {
	Name      string `json:"name"`
	SizeBytes int64  `json:"size_bytes"`
	Partial   bool   `json:"partial"`
}

// Lock states in a LockReport.
const (
	LockFree = "free"
	LockHeld = "held"
)

// LockReport says whether the lock is held, by whom and for how long.
type LockReport struct {
	State          string  `json:"state"`
	Holder         *Holder `json:"holder"`
	HeldForSeconds int64   `json:"held_for_seconds"`
}

// ProgressReport is the progress marker with its age and the stuck flag
// (set only while the lock is held).
type ProgressReport struct {
	Progress
	AgeSeconds int64 `json:"age_seconds"`
	Stuck      bool  `json:"stuck"`
}

// WorkerEntry is one unit's directory under workers/ and the release the
// registry says its services run ("" when none).
type WorkerEntry struct {
	Name    string `json:"name"`
	Mode    string `json:"mode"`
	Release string `json:"release,omitempty"`
}

// ProblemKind names something wrong on a volume. The inspect command and
// the charm phrase what to do about each kind.
type ProblemKind string

// The problems Inspect reports.
const (
	ProblemVolatileFS         ProblemKind = "volatile-filesystem"       // tmpfs or ramfs: gone at reboot, seen by no other machine
	ProblemUnreadable         ProblemKind = "unreadable"                // an entry of the layout cannot be read
	ProblemNotADirectory      ProblemKind = "not-a-directory"           // a layout entry, or an entry of workers/, is not a directory
	ProblemMode               ProblemKind = "mode"                      // a private directory is readable by others
	ProblemCorruptMarker      ProblemKind = "corrupt-marker"            // a marker cannot be decoded
	ProblemInstalledMissing   ProblemKind = "installed-release-missing" // the installed marker names a missing release
	ProblemCurrentNotSymlink  ProblemKind = "current-not-symlink"
	ProblemCurrentOutside     ProblemKind = "current-outside-releases"
	ProblemCurrentMissing     ProblemKind = "current-release-missing"
	ProblemLockUnprobed       ProblemKind = "lock-unprobed" // flock could not be tried
	ProblemStuckInstall       ProblemKind = "stuck-install"
	ProblemInterruptedInstall ProblemKind = "interrupted-install" // a progress marker while the lock is free
	ProblemPartialRelease     ProblemKind = "partial-release"     // an interrupted unpack while the lock is free
	ProblemLowSpace           ProblemKind = "low-space"
)

// Problem is one thing wrong on the volume: its kind, the path concerned and
// the facts, in words.
type Problem struct {
	Kind   ProblemKind `json:"kind"`
	Path   string      `json:"path"`
	Detail string      `json:"detail"`
}

func (p Problem) String() string { return p.Path + ": " + p.Detail }

// Inspect reports on the volume without changing it.
func (v *Volume) Inspect() (Report, error) { return inspect(v) }

// InspectPath reports on the volume at root without creating or writing
// anything, so it can look at a stuck or half-made volume as it is. It tells
// a held lock from a free one with a non-blocking flock probe.
func InspectPath(root string, opts ...Option) (Report, error) {
	abs, err := checkRoot(root)
	if err != nil {
		return Report{}, err
	}
	// A handle that is never opened: it only reads.
	return inspect(&Volume{root: abs, cfg: newConfig(opts)})
}

// inspection gathers a Report; each step adds what it found and problems.
type inspection struct {
	v   *Volume
	now time.Time
	r   Report
}

func (in *inspection) problem(kind ProblemKind, path, format string, args ...any) {
	in.r.Problems = append(in.r.Problems, Problem{Kind: kind, Path: path, Detail: fmt.Sprintf(format, args...)})
}

// corrupt reports a marker that cannot be read, or a failure to read it.
func (in *inspection) corrupt(path string, err error) {
	if ce, ok := errors.AsType[*CorruptMarkerError](err); ok {
		in.problem(ProblemCorruptMarker, ce.Path, "corrupt: %v", ce.Err)
		return
	}
	in.problem(ProblemUnreadable, path, "%v", err)
}

func inspect(v *Volume) (Report, error) {
	root := v.root
	in := &inspection{v: v, now: v.cfg.now()}
	in.r = Report{Root: root, At: in.now, Releases: []ReleaseEntry{}, Workers: []WorkerEntry{}, Problems: []Problem{}}
	fsInfo, err := statFS(root)
	if err != nil {
		return Report{}, &VolumeError{Path: root, Reason: ErrVolumeUnusable, Err: err}
	}
	in.r.FS = fsInfo
	in.filesystem()
	in.layout()
	in.installed()
	in.fence()
	in.releases()
	in.current()
	in.lockAndProgress()
	in.space()
	in.workers()
	in.volumeID()
	return in.r, nil
}

func (in *inspection) filesystem() {
	if in.r.FS.Type == "tmpfs" || in.r.FS.Type == "ramfs" {
		in.problem(ProblemVolatileFS, in.v.root, "on %s: its contents vanish at reboot and no other machine sees them", in.r.FS.Type)
	}
}

func (in *inspection) layout() {
	in.r.Initialised = true
	for _, d := range layoutDirs() {
		path := in.v.Path(d.name)
		fi, err := os.Lstat(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			in.r.Initialised = false
		case err != nil:
			in.problem(ProblemUnreadable, path, "%v", err)
		case !fi.IsDir():
			in.problem(ProblemNotADirectory, path, "%s where the layout needs a directory", describeType(fi.Mode()))
		case d.name == KeysDir && fi.Mode().Perm() != KeysMode:
			in.problem(ProblemMode, path, "mode %#o, keys must be %#o", fi.Mode().Perm(), KeysMode)
		}
	}
}

func (in *inspection) installed() {
	iv, err := in.v.ReadInstalledVersion()
	if err != nil {
		in.corrupt(in.v.Path(InstalledVersionFile), err)
		return
	}
	in.r.Installed = iv
	if iv != nil && !isRealDir(in.v.Path(ReleasesDir, iv.Version.String())) {
		in.problem(ProblemInstalledMissing, in.v.Path(ReleasesDir, iv.Version.String()),
			"missing, though %s says %s is installed", InstalledVersionFile, iv.Version)
	}
}

func (in *inspection) fence() {
	f, err := in.v.CurrentFence()
	if err != nil {
		in.corrupt(in.v.Path(CurrentFenceFile), err)
		return
	}
	if !f.Version.IsZero() {
		in.r.Fence = &f
	}
}

func (in *inspection) releases() {
	entries, err := os.ReadDir(in.v.Path(ReleasesDir))
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		in.problem(ProblemUnreadable, in.v.Path(ReleasesDir), "%v", err)
		return
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		in.r.Releases = append(in.r.Releases, ReleaseEntry{
			Name:      e.Name(),
			SizeBytes: treeSize(in.v.Path(ReleasesDir, e.Name())),
			Partial:   isUnfinishedName(e.Name()),
		})
	}
}

// treeSize sums the sizes of the files under dir, skipping what it cannot
// read: it is an estimate.
func treeSize(dir string) int64 {
	var total int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if info, err := d.Info(); err == nil && info.Mode().IsRegular() {
			total += info.Size()
		}
		return nil
	})
	return total
}

func (in *inspection) current() {
	link := in.v.Path(CurrentLink)
	target, err := os.Readlink(link)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return
	case err != nil:
		in.problem(ProblemCurrentNotSymlink, link, "not a symlink (%v)", err)
		return
	}
	in.r.Current = target
	resolved := target
	if !filepath.IsAbs(resolved) {
		resolved = filepath.Join(in.v.root, resolved)
	}
	releases := in.v.Path(ReleasesDir)
	if filepath.Dir(filepath.Clean(resolved)) != releases {
		in.problem(ProblemCurrentOutside, link, "points to %s, outside %s", target, releases)
		return
	}
	if !isRealDir(resolved) {
		in.problem(ProblemCurrentMissing, link, "points to %s, which is missing", target)
	}
}

func (in *inspection) lockAndProgress() {
	held, err := probeLock(in.v.Path(LockFile))
	if err != nil {
		in.problem(ProblemLockUnprobed, in.v.Path(LockFile), "%v", err)
	}
	in.r.Lock.State = LockFree
	if held {
		in.r.Lock.State = LockHeld
		h, err := in.v.readHolder()
		if err != nil {
			in.corrupt(in.v.Path(LockHolderFile), err)
		}
		if h != nil {
			in.r.Lock.Holder = h
			in.r.Lock.HeldForSeconds = seconds(in.now.Sub(h.Since))
		}
	}
	p, err := in.v.ReadProgress()
	if err != nil {
		in.corrupt(in.v.Path(ProgressFile), err)
	}
	if p != nil {
		pr := &ProgressReport{Progress: *p, AgeSeconds: seconds(in.now.Sub(p.Started)), Stuck: held && isStuck(p, in.now)}
		in.r.Progress = pr
		switch {
		case pr.Stuck:
			in.problem(ProblemStuckInstall, in.v.Path(ProgressFile), "the install of %s by %s (pid %d) started %s ago, more than %s, and still holds the lock",
				p.Version, p.Unit, p.PID, roundDuration(in.now.Sub(p.Started)), StuckAfter)
		case !held:
			in.problem(ProblemInterruptedInstall, in.v.Path(ProgressFile), "the install of %s by %s (pid %d) was interrupted; the next holder of the lock removes this marker and the partial files",
				p.Version, p.Unit, p.PID)
		}
	}
	if held {
		return
	}
	for _, rel := range in.r.Releases {
		if rel.Partial {
			in.problem(ProblemPartialRelease, in.v.Path(ReleasesDir, rel.Name), "left by an interrupted unpack (%s); the lock is free, and its next holder removes it",
				bytesize.Format(rel.SizeBytes))
		}
	}
}

// space reports a volume where the next release may not fit, with what
// interrupted unpacks hold (often what filled the disk).
func (in *inspection) space() {
	if in.r.FS.FreeBytes >= MinFreeBytes {
		return
	}
	var partial int64
	for _, rel := range in.r.Releases {
		if rel.Partial {
			partial += rel.SizeBytes
		}
	}
	detail := fmt.Sprintf("only %s free, less than the %s a release may need", bytesize.Format(int64(in.r.FS.FreeBytes)), bytesize.Format(MinFreeBytes))
	if partial > 0 {
		detail += fmt.Sprintf("; partial releases hold %s (lock %s)", bytesize.Format(partial), in.r.Lock.State)
	}
	in.problem(ProblemLowSpace, in.v.root, "%s", detail)
}

func seconds(d time.Duration) int64 { return int64(roundDuration(d) / time.Second) }

func (in *inspection) workers() {
	dir := in.v.Path(WorkersDir)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		in.problem(ProblemUnreadable, dir, "%v", err)
		return
	}
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		fi, err := os.Lstat(path)
		if err != nil {
			continue
		}
		if !fi.IsDir() {
			in.problem(ProblemNotADirectory, path, "%s, not a unit's worker directory", describeType(fi.Mode()))
			continue
		}
		in.r.Workers = append(in.r.Workers, WorkerEntry{Name: e.Name(), Mode: fmt.Sprintf("%#o", fi.Mode().Perm())})
		if fi.Mode().Perm() != WorkerDirMode {
			in.problem(ProblemMode, path, "mode %#o, a worker directory must be %#o", fi.Mode().Perm(), WorkerDirMode)
		}
	}
	sort.Slice(in.r.Workers, func(i, j int) bool { return in.r.Workers[i].Name < in.r.Workers[j].Name })
	units, err := in.v.UnitReleases()
	if err != nil {
		in.corrupt(dir, err)
		return
	}
	for unit, release := range units {
		slug, _ := workerDirName(unit)
		for i := range in.r.Workers {
			if in.r.Workers[i].Name == slug {
				in.r.Workers[i].Release = release.String()
			}
		}
	}
}

func (in *inspection) volumeID() {
	id, err := in.v.ReadVolumeID()
	switch {
	case errors.Is(err, ErrNoVolumeID):
	case err != nil:
		in.corrupt(in.v.Path(VolumeIDFile), err)
	default:
		in.r.VolumeID = id
	}
}
