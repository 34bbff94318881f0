package charmtest

import (
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/version"
	"github.com/concourse-ci-machine/concourse-ci-machine/storage"
)

// Clone copies the world into dir (a fresh directory): its volumes and
// unit state on disk, the model, the machines and what the invariants
// remember. The release server is shared. Clone only between hooks.
func (w *World) Clone(dir string) (*World, error) {
	for _, sub := range append(w.volumeDirs(), "state") {
		if err := copyTree(filepath.Join(w.Dir, sub), filepath.Join(dir, sub)); err != nil {
			return nil, err
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	c := &World{
		App: w.App, Dir: dir, Server: w.Server, opts: w.opts,
		machines:   map[string]*Machine{},
		violations: slices.Clone(w.violations),
		webSeen:    maps.Clone(w.webSeen),
		steps:      w.steps,
		downloads:  maps.Clone(w.downloads),
		down:       maps.Clone(w.down),
		failNext:   maps.Clone(w.failNext),
		apps:       map[string]*application{},
	}
	for name, a := range w.apps {
		cp := *a
		cp.apart = maps.Clone(a.apart)
		c.apps[name] = &cp
	}
	c.Model = w.Model.Clone(func(old string) string { return dir + strings.TrimPrefix(old, w.Dir) })
	for name, m := range w.machines {
		c.machines[name] = m.clone(c)
	}
	return c, nil
}

// clone copies the machine's state into world w.
func (m *Machine) clone(w *World) *Machine {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := newMachine(w, m.unit)
	for name, s := range m.svcs {
		cp := *s
		c.svcs[name] = &cp
	}
	c.Journal = slices.Clone(m.Journal)
	c.registered = maps.Clone(m.registered)
	c.drainOutcome = m.drainOutcome
	return c
}

// copyTree copies a directory tree with its modes and symlinks.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) && path == src {
				return filepath.SkipDir
			}
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			if err := os.MkdirAll(target, 0o700); err != nil {
				return err
			}
			return os.Chmod(target, info.Mode().Perm())
		case info.Mode()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case info.Mode().IsRegular():
			return copyFile(path, target, info.Mode().Perm())
		}
		return nil // sockets, fifos: not part of a volume's state
	})
}

func copyFile(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chmod(dst, perm)
}

// Key is a hash of the world's abstract state: what Juju holds (bags,
// leader, queues, scopes), each machine's services, each volume's
// `current`, fence, releases and registry, each unit's clock readings, the
// model time and the faults still armed. Two worlds with one key behave
// alike from here on, so a model checker explores one of them.
func (w *World) Key() string {
	var b strings.Builder
	b.WriteString(w.Model.State())
	fmt.Fprintf(&b, "time %s\n", w.Model.ModelTime().Sub(Epoch))
	w.mu.Lock()
	fmt.Fprintf(&b, "down %v fail %v\n", slices.Sorted(maps.Keys(w.down)), w.failNext)
	names := slices.Sorted(maps.Keys(w.machines))
	w.mu.Unlock()
	for _, name := range names {
		m := w.Machine(name)
		m.mu.Lock()
		for _, svc := range slices.Sorted(maps.Keys(m.svcs)) {
			s := m.svcs[svc]
			fmt.Fprintf(&b, "svc %s %s release=%s active=%v enabled=%v running=%s\n", name, svc, s.release, s.active, s.enabled, s.running)
		}
		for _, worker := range slices.Sorted(maps.Keys(m.registered)) {
			fmt.Fprintf(&b, "atc %s %s %s\n", name, worker, m.registered[worker])
		}
		m.mu.Unlock()
		if data, err := os.ReadFile(filepath.Join(w.stateDir(name), "charm-state.json")); err == nil {
			fmt.Fprintf(&b, "local %s %s\n", name, stripTimes(string(data)))
		}
	}
	for _, dir := range w.volumeDirs() {
		b.WriteString(volumeKey(filepath.Join(w.Dir, dir)))
	}
	sum := sha256.Sum256([]byte(b.String()))
	return fmt.Sprintf("%x", sum[:12])
}

// stripTimes drops wall-clock readings from the charm's local state: only
// which phase was seen matters for what the unit does next (the model
// time, hashed separately, decides the rest).
func stripTimes(s string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if !strings.Contains(line, `"at"`) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

func volumeKey(root string) string {
	v, err := storage.OpenVolume(root, storage.WithoutSync())
	if err != nil {
		return "volume " + filepath.Base(root) + " " + err.Error() + "\n"
	}
	cur, _ := v.CurrentVersion()
	fence, _ := v.CurrentFence()
	releases, _ := v.ListReleases()
	slices.SortFunc(releases, version.Version.Compare)
	used, _ := v.UnitReleases()
	return fmt.Sprintf("volume %s current=%s fence=%s/%d releases=%v used=%v\n",
		filepath.Base(root), cur, fence.Version, fence.Revision, releases, used)
}
