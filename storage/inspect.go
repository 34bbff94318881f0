package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Report is what Inspect finds on a volume, for operators (the inspect
// command prints it) and for status messages.
type Report struct {
	Root        string            `json:"root"`
	At          time.Time         `json:"at"`
	Initialised bool              `json:"initialised"` // the layout directories exist
	FS          FSInfo            `json:"fs"`
	Installed   *InstalledVersion `json:"installed_version"`
	Releases    []ReleaseEntry    `json:"releases"`
	Current     string            `json:"current"` // target of the current symlink as stored; "" when absent
	Lock        LockReport        `json:"lock"`
	Progress    *ProgressReport   `json:"progress"`
	Workers     []WorkerEntry     `json:"workers"`
	VolumeID    string            `json:"volume_id"`
	// Problems each say what is wrong and what to do about it.
	Problems []string `json:"problems"`
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

// WorkerEntry is one unit's directory under workers/.
type WorkerEntry struct {
	Name string `json:"name"`
	Mode string `json:"mode"`
}

// Inspect reports on the volume without changing it.
func (v *Volume) Inspect() (Report, error) { return inspect(v.root, v.cfg) }

// InspectPath reports on the volume at root without creating or writing
// anything, so it can look at a stuck or half-made volume as it is. It tells
// a held lock from a free one with a non-blocking flock probe.
func InspectPath(root string, opts ...Option) (Report, error) {
	abs, err := checkRoot(root)
	if err != nil {
		return Report{}, err
	}
	return inspect(abs, newConfig(opts))
}

// inspection gathers a Report; each step adds what it found and problems.
type inspection struct {
	root string
	now  time.Time
	r    Report
}

func (in *inspection) problem(format string, args ...any) {
	in.r.Problems = append(in.r.Problems, fmt.Sprintf(format, args...))
}

func (in *inspection) path(elem ...string) string {
	return filepath.Join(append([]string{in.root}, elem...)...)
}

func inspect(root string, cfg config) (Report, error) {
	in := &inspection{root: root, now: cfg.now()}
	in.r = Report{Root: root, At: in.now, Releases: []ReleaseEntry{}, Workers: []WorkerEntry{}, Problems: []string{}}
	fsInfo, err := statFS(root)
	if err != nil {
		return Report{}, &VolumeError{Path: root, Kind: VolumeUnusable, Err: err}
	}
	in.r.FS = fsInfo
	in.filesystem()
	in.layout()
	in.installed()
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
		in.problem("%s is on %s: its contents vanish at reboot and no other machine sees it; mount a persistent shared filesystem there", in.root, in.r.FS.Type)
	}
}

func (in *inspection) layout() {
	in.r.Initialised = true
	for _, d := range layoutDirs() {
		fi, err := os.Lstat(in.path(d.name))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			in.r.Initialised = false
		case err != nil:
			in.problem("cannot read %s (%v): check the filesystem", in.path(d.name), err)
		case !fi.IsDir():
			in.problem("%s is %s where a directory belongs: move it away; the charm recreates the directory", in.path(d.name), describeType(fi.Mode()))
		case d.name == KeysDir && fi.Mode().Perm() != KeysMode:
			in.problem("%s has mode %#o, keys must be private: chmod %o %s", in.path(d.name), fi.Mode().Perm(), KeysMode, in.path(d.name))
		}
	}
}

func (in *inspection) installed() {
	iv, err := readInstalledVersion(in.path(InstalledVersionFile))
	if err != nil {
		in.problem("%v", err)
		return
	}
	in.r.Installed = iv
	if iv != nil && !isRealDir(in.path(ReleasesDir, iv.Version)) {
		in.problem("%s says %s is installed but %s is missing: remove %s; the next install redoes the release",
			InstalledVersionFile, iv.Version, in.path(ReleasesDir, iv.Version), in.path(InstalledVersionFile))
	}
}

func (in *inspection) releases() {
	entries, err := os.ReadDir(in.path(ReleasesDir))
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		in.problem("cannot list %s (%v): check the filesystem", in.path(ReleasesDir), err)
		return
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		in.r.Releases = append(in.r.Releases, ReleaseEntry{
			Name:      e.Name(),
			SizeBytes: treeSize(in.path(ReleasesDir, e.Name())),
			Partial:   isUnfinishedName(e.Name()),
		})
	}
}

// treeSize sums the sizes of the files under dir, skipping what it cannot
// read: it is an estimate for operators.
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
	link := in.path(CurrentLink)
	target, err := os.Readlink(link)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return
	case err != nil:
		in.problem("%s is not a symlink (%v): remove it; the next install points it at the installed release", link, err)
		return
	}
	in.r.Current = target
	resolved := target
	if !filepath.IsAbs(resolved) {
		resolved = filepath.Join(in.root, resolved)
	}
	releases := in.path(ReleasesDir)
	if filepath.Dir(filepath.Clean(resolved)) != releases {
		in.problem("%s points to %s, outside %s: remove it; the next install points it at the installed release", link, target, releases)
		return
	}
	if !isRealDir(resolved) {
		in.problem("%s points to %s, which is missing: the next install or upgrade points it at an installed release", link, target)
	}
}

func (in *inspection) lockAndProgress() {
	held, err := probeLock(in.path(LockFile))
	if err != nil {
		in.problem("%v: check the filesystem supports flock", err)
	}
	in.r.Lock.State = LockFree
	if held {
		in.r.Lock.State = LockHeld
		h, err := readHolder(in.path(LockHolderFile))
		if err != nil {
			in.problem("%v", err)
		}
		if h != nil {
			in.r.Lock.Holder = h
			in.r.Lock.HeldForSeconds = seconds(in.now.Sub(h.Since))
		}
	}
	p, err := readProgress(in.path(ProgressFile))
	if err != nil {
		in.problem("%v", err)
	}
	if p != nil {
		pr := &ProgressReport{Progress: *p, AgeSeconds: seconds(in.now.Sub(p.Started)), Stuck: held && isStuck(p, in.now)}
		in.r.Progress = pr
		switch {
		case pr.Stuck:
			in.problem("the install of %s by %s (pid %d) started %s ago and looks stuck (more than %s): %s",
				p.Version, p.Unit, p.PID, roundDuration(in.now.Sub(p.Started)), StuckAfter, stuckAdvice(in.r.Lock.Holder, p))
		case !held:
			in.problem("the install of %s by %s (pid %d) was interrupted: the next unit to take the lock removes %s and the partial files; nothing to do unless this stays",
				p.Version, p.Unit, p.PID, ProgressFile)
		}
	}
	if held {
		return
	}
	for _, rel := range in.r.Releases {
		if rel.Partial {
			in.problem("%s is left from an interrupted unpack: the next unit to take the lock removes it", in.path(ReleasesDir, rel.Name))
		}
	}
}

// space warns when the next release will not fit. Partial release
// directories are often what fills the disk (an unpack that died on it), so
// it names them and says when deleting them by hand is safe.
func (in *inspection) space() {
	if in.r.FS.FreeBytes >= MinFreeBytes {
		return
	}
	msg := fmt.Sprintf("only %d bytes free on %s: free space or grow the filesystem before the next install (a release needs several hundred MiB)", in.r.FS.FreeBytes, in.root)
	var names []string
	var size int64
	for _, rel := range in.r.Releases {
		if rel.Partial {
			names = append(names, rel.Name)
			size += rel.SizeBytes
		}
	}
	if len(names) > 0 {
		pattern := in.path(ReleasesDir, "*"+PartialInfix+"*")
		if in.r.Lock.State == LockFree {
			msg += fmt.Sprintf("; the interrupted unpacks %s (%d bytes) hold space and can be deleted safely when the lock is free, as it was just now (rm -rf %s; run inspect again first if a unit may have started installing); the next unit to take the lock removes them too",
				strings.Join(names, ", "), size, pattern)
		} else {
			msg += fmt.Sprintf("; %s (%s, %d bytes) may belong to the install in progress: they can be deleted safely only when the lock is free (run inspect again until it is; the next unit to take the lock removes them anyway)",
				pattern, strings.Join(names, ", "), size)
		}
	}
	in.problem("%s", msg)
}

func seconds(d time.Duration) int64 { return int64(roundDuration(d) / time.Second) }

func (in *inspection) workers() {
	dir := in.path(WorkersDir)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		in.problem("cannot list %s (%v): check the filesystem", dir, err)
		return
	}
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		fi, err := os.Lstat(path)
		if err != nil {
			continue
		}
		if !fi.IsDir() {
			in.problem("%s is %s, not a unit's worker directory: move it away", path, describeType(fi.Mode()))
			continue
		}
		in.r.Workers = append(in.r.Workers, WorkerEntry{Name: e.Name(), Mode: fmt.Sprintf("%#o", fi.Mode().Perm())})
		if fi.Mode().Perm() != WorkerDirMode {
			in.problem("%s has mode %#o, a worker directory must be private: chmod %o %s", path, fi.Mode().Perm(), WorkerDirMode, path)
		}
	}
	sort.Slice(in.r.Workers, func(i, j int) bool { return in.r.Workers[i].Name < in.r.Workers[j].Name })
}

func (in *inspection) volumeID() {
	id, err := readVolumeID(in.path(VolumeIDFile))
	switch {
	case errors.Is(err, ErrNoVolumeID):
	case err != nil:
		in.problem("%v", err)
	default:
		in.r.VolumeID = id
	}
}
