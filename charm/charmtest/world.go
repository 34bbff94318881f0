package charmtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/charm"
	"github.com/concourse-ci-machine/concourse-ci-machine/fsm"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/unitname"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/version"
	"github.com/concourse-ci-machine/concourse-ci-machine/relation"
	"github.com/concourse-ci-machine/concourse-ci-machine/relation/jujutest"
	"github.com/concourse-ci-machine/concourse-ci-machine/storage"
	"github.com/concourse-ci-machine/concourse-ci-machine/storage/releasetest"
	"github.com/stretchr/testify/require"
)

// Epoch is where every world's clock starts.
var Epoch = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// Options describe a world.
type Options struct {
	// App is the application's name; "concourse" when empty.
	App string
	// Units is how many units deploy at first.
	Units int
	// Config overrides charm.DefaultConfig (mode, version, ...).
	Config map[string]any
	// Releases are the versions the release server publishes.
	Releases []string
	// Apart lists the units whose storage is their own; the others share
	// one volume.
	Apart []string
	// VolumeOptions, when set, tunes the options a unit's volume opens
	// with (no fsync, a one-second StageWait): a test's StageWait or
	// Fetch. Now is always the unit's clock.
	VolumeOptions func(*charm.VolumeOptions)
	// WrapVolume, when set, wraps each unit's volume: a test fakes what
	// the volume reports (its filesystem, say). The world's checks wrap
	// the result, so they stay on.
	WrapVolume func(charm.Volume) charm.Volume
	// Postgres is how the application's PostgreSQL behaves.
	Postgres PostgresMode
	// Environ is the charm's environment (Deps.Environ), e.g. Juju's
	// proxy settings.
	Environ map[string]string
	// OneMachine puts every unit on one machine: each sees the others'
	// state directories (charm.Host.StateBase). Otherwise each unit has
	// a machine of its own.
	OneMachine bool
}

// PostgresMode is how a world's PostgreSQL behaves.
type PostgresMode int

const (
	// PostgresAnswers: related from the start, and the provider answers
	// the leader's request with PostgresAnswer.
	PostgresAnswers PostgresMode = iota
	// PostgresSilent: related, and the test answers (SetRemoteData).
	PostgresSilent
	// PostgresAbsent: not related.
	PostgresAbsent
)

// PostgresApp is the remote PostgreSQL application's name.
const PostgresApp = "postgresql"

// PostgresAnswer is what the model's PostgreSQL answers a request with.
func PostgresAnswer() map[string]string {
	return map[string]string{"endpoints": "10.9.0.5:5432", "username": "relation-3", "password": "pg-s3cret", "version": "16.4"}
}

// application is one application of the world: its options, its volumes,
// its PostgreSQL relation and what the invariants remember of its record.
type application struct {
	opts Options
	// volume is the shared volume's directory and apart each apart unit's
	// own, relative to the world's Dir.
	volume string
	apart  map[string]string
	// added is how many units were added so far: the next one's number.
	added    int
	pg       int // the relation's number, -1 when not related
	answered bool
	// highest generation and revision committed so far, and the last
	// record with a revision.
	maxGeneration, maxRevision uint64
	lastRecord                 fsm.Record
}

// World is a model of Juju running the real charm on every unit, each on
// its own in-memory machine, with real volumes on disk and a loopback
// release server. Every start is checked against the committed record
// (see Violations); CheckState checks the rest after each step.
type World struct {
	Model  *jujutest.Model
	App    string
	Dir    string
	Server *releasetest.Server
	opts   Options

	mu         sync.Mutex
	apps       map[string]*application
	machines   map[string]*Machine
	violations []string
	webSeen    map[string]version.Version // the newest release each unit's web started on
	steps      int
	// downloads counts, per volume and version, the stages that put a
	// release on a volume that did not have it.
	downloads map[string]int
	// down units run no hooks (their agent is gone) until brought up.
	down map[string]bool
	// failNext makes the next downloads of a version fail (a cut
	// connection), this many times.
	failNext map[string]int
	// OnSwitch, when set, runs before a unit's switch of `current` reaches
	// the volume: a test makes that switch slow, and lets other units act
	// meanwhile.
	OnSwitch func(unit string)
	// atc is the world's Concourse API (see atc.go).
	atc atc
}

// New builds a world in dir (a test's temp dir) and deploys its units.
func New(dir string, opts Options) (*World, error) {
	if opts.App == "" {
		opts.App = "concourse"
	}
	w := &World{App: opts.App, Dir: dir, opts: opts, apps: map[string]*application{}, machines: map[string]*Machine{}, webSeen: map[string]version.Version{},
		downloads: map[string]int{}, down: map[string]bool{}, failNext: map[string]int{}, Server: releasetest.NewServer()}
	for _, v := range opts.Releases {
		w.Server.AddRelease(v, releasetest.Tarball(v))
	}
	w.Model = jujutest.NewModel("test", Epoch)
	if err := w.Deploy(opts); err != nil {
		return nil, err
	}
	return w, nil
}

// NewT builds a world in a temp dir of tb, closed when tb ends.
func NewT(tb testing.TB, opts Options) *World {
	tb.Helper()
	w, err := New(tb.TempDir(), opts)
	require.NoError(tb, err)
	tb.Cleanup(w.Close)
	return w
}

// Deploy adds an application (opts.App, opts.Units, opts.Config,
// opts.Postgres, opts.Apart) with its own shared volume; Releases,
// VolumeOptions, WrapVolume and Environ are the world's.
func (w *World) Deploy(opts Options) error {
	cfg := charm.DefaultConfig()
	cfg["release-url"] = w.Server.BaseURL() + "/v{version}/concourse-{version}-linux-amd64.tgz"
	maps.Copy(cfg, opts.Config)
	a := &application{opts: opts, volume: "shared-volume", apart: map[string]string{}, pg: -1}
	if opts.App != w.App {
		a.volume += "-" + opts.App
	}
	w.mu.Lock()
	w.apps[opts.App] = a
	w.mu.Unlock()
	w.Model.Deploy(opts.App, filepath.Join(w.Dir, "charm"), cfg)
	if opts.Postgres != PostgresAbsent {
		a.pg = w.Model.RelateRemote(opts.App, "postgresql", PostgresApp, "database")
	}
	if err := os.MkdirAll(filepath.Join(w.Dir, a.volume), 0o755); err != nil {
		return err
	}
	for i := 0; i < opts.Units; i++ {
		if _, err := w.AddUnitOf(opts.App); err != nil {
			return err
		}
	}
	return nil
}

// PostgresRelation is the number of app's PostgreSQL relation (-1 when
// not related), for SetRemoteData, RemoteAppBag and Unrelate.
func (w *World) PostgresRelation(app string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.apps[app].pg
}

// answerPostgres is the model's PostgreSQL provider: it answers a request
// once, as a provider does when the requirer's leader asks.
func (w *World) answerPostgres() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for name, a := range w.apps {
		if a.opts.Postgres != PostgresAnswers || a.answered || a.pg < 0 {
			continue
		}
		if w.Model.RemoteAppBag(a.pg, name)["database"] != "" {
			w.Model.SetRemoteData(a.pg, PostgresAnswer())
			a.answered = true
		}
	}
}

// Close stops the release server and the ATC's socket (see ServeATC).
func (w *World) Close() {
	w.Server.Close()
	w.mu.Lock()
	srv := w.atc.server
	w.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

// sharedDir is the shared volume of the world's first application.
func (w *World) sharedDir() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return filepath.Join(w.Dir, w.apps[w.App].volume)
}

// volumeDirs lists every volume of the world, relative to its Dir: each
// application's shared volume and each apart unit's own, those of removed
// units included. Clone copies them and Key hashes them.
func (w *World) volumeDirs() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var dirs []string
	for _, name := range slices.Sorted(maps.Keys(w.apps)) {
		a := w.apps[name]
		dirs = append(dirs, a.volume)
		for _, unit := range slices.Sorted(maps.Keys(a.apart)) {
			dirs = append(dirs, a.apart[unit])
		}
	}
	return dirs
}

// volumesInUse lists the volumes app's units use now, relative to Dir.
func (w *World) volumesInUse(app string) []string {
	units := w.Model.Units(app)
	w.mu.Lock()
	defer w.mu.Unlock()
	a := w.apps[app]
	var dirs []string
	for _, u := range units {
		dir, ok := a.apart[u]
		if !ok {
			dir = a.volume
		}
		if !slices.Contains(dirs, dir) {
			dirs = append(dirs, dir)
		}
	}
	return dirs
}

// AddUnit adds a unit of the world's first application with its machine
// and storage; it returns its name.
func (w *World) AddUnit() (string, error) { return w.AddUnitOf(w.App) }

// AddUnitOf adds a unit of app.
func (w *World) AddUnitOf(app string) (string, error) {
	w.mu.Lock()
	a := w.apps[app]
	n := a.added
	a.added++
	volume := a.volume
	w.mu.Unlock()
	name := unitname.Name{App: app, Number: n}
	apart := slices.Contains(a.opts.Apart, name.String())
	if apart {
		volume = "volume-" + strconv.Itoa(n)
		if app != w.App {
			volume = "volume-" + name.Slug()
		}
		if err := os.MkdirAll(filepath.Join(w.Dir, volume), 0o755); err != nil {
			return "", err
		}
	}
	u := w.Model.AddUnit(app, filepath.Join(w.Dir, volume))
	if u.Name != name {
		return "", fmt.Errorf("charmtest: expected unit %s, the model added %s", name, u.Name)
	}
	w.mu.Lock()
	if apart {
		a.apart[name.String()] = volume
	}
	w.machines[name.String()] = newMachine(w, name.String())
	w.mu.Unlock()
	return name.String(), os.MkdirAll(w.stateDir(name.String()), 0o700)
}

func (w *World) stateDir(unit string) string {
	return filepath.Join(w.Dir, "state", unitname.MustParse(unit).Slug())
}

// Machine is a unit's machine.
func (w *World) Machine(unit string) *Machine {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.machines[unit]
}

// Dispatcher runs the real charm for unit, as Juju runs its dispatch.
func (w *World) Dispatcher(unit string) jujutest.Dispatcher {
	open := func(root string) (charm.Volume, error) {
		opts := charm.VolumeOptions{NoSync: true, StageWait: time.Second}
		if w.opts.VolumeOptions != nil {
			w.opts.VolumeOptions(&opts)
		}
		opts.Now = func() time.Time { return w.Model.Now(unit) }
		v, err := charm.OpenVolume(root, opts)
		if err != nil {
			return nil, err
		}
		if w.opts.WrapVolume != nil {
			v = w.opts.WrapVolume(v)
		}
		return &countingVolume{Volume: v, w: w}, nil
	}
	environ := maps.Clone(w.opts.Environ)
	host := charm.Host{Root: w.HostRoot()}
	if w.opts.OneMachine {
		host.StateBase = filepath.Join(w.Dir, "state")
	}
	return func(ctx context.Context, hc relation.Context, j relation.Juju) error {
		return charm.Run(ctx, hc, charm.Deps{
			Juju:       j,
			Services:   w.Machine(unit),
			OpenVolume: open,
			StateDir:   w.stateDir(unit),
			Clock:      func() time.Time { return w.Model.Now(unit) },
			Binary:     "/usr/bin/true",
			Environ:    func(k string) string { return environ[k] },
			// Small keys: a world deploys many clusters; the size is
			// concourse's to test.
			KeyBits:      1024,
			ConcourseAPI: w.concourseAPI,
			Host:         host,
		})
	}
}

// HostRoot is where the units read their machine's /run and /proc
// (charm.Host.Root): empty, so no unit is in a container, until a test
// writes the files it fakes there.
func (w *World) HostRoot() string { return filepath.Join(w.Dir, "host") }

// countingVolume counts the stages that put a release on a volume that
// lacked it, and fails the ones a test asked to fail (a cut connection).
type countingVolume struct {
	charm.Volume
	w *World
}

func (v *countingVolume) Stage(ctx context.Context, req charm.StageRequest) error {
	had := v.Staged(req.Version)
	v.w.mu.Lock()
	fail := v.w.failNext[req.Version.String()] > 0
	if fail {
		v.w.failNext[req.Version.String()]--
	}
	v.w.mu.Unlock()
	if fail {
		// The real installer meets a server that cuts the connection.
		v.w.Server.InjectFault(releasetest.ReleasePath(req.Version.String()), releasetest.Fault{Kind: releasetest.FaultStatus, Status: 404})
	}
	err := v.Volume.Stage(ctx, req)
	if !had && v.Staged(req.Version) && v.installedBy(req.Version) == req.Unit {
		// Units racing for one release all start unstaged; the one that
		// installed it downloaded it, the others found it staged.
		rel, _ := filepath.Rel(v.w.Dir, v.Root())
		v.w.mu.Lock()
		v.w.downloads[rel+" "+req.Version.String()]++
		v.w.mu.Unlock()
	}
	return err
}

// installedBy is the unit that installed release ver on the volume, as
// its release info says ("" when unreadable).
func (v *countingVolume) installedBy(ver version.Version) string {
	data, err := os.ReadFile(filepath.Join(v.Root(), storage.ReleasesDir, ver.String(), storage.ReleaseInfoFile))
	if err != nil {
		return ""
	}
	var info storage.ReleaseInfo
	if json.Unmarshal(data, &info) != nil {
		return ""
	}
	return info.Unit
}

func (v *countingVolume) SwitchCurrent(ctx context.Context, unit string, ver version.Version, revision uint64) error {
	v.w.mu.Lock()
	hook := v.w.OnSwitch
	v.w.mu.Unlock()
	if hook != nil {
		hook(unit)
	}
	v.w.switching(unit, ver, revision)
	return v.Volume.SwitchCurrent(ctx, unit, ver, revision)
}

// Step runs unit's next hook whole: begin, run, commit. It returns the
// hook's error (a failed hook is retried by the model).
func (w *World) Step(ctx context.Context, unit string) error {
	h := w.Model.Begin(unit)
	if h == nil {
		return fmt.Errorf("charmtest: %s has nothing to run", unit)
	}
	_ = h.Run(ctx, w.Dispatcher(unit))
	err := h.Commit()
	w.afterStep()
	return err
}

// Begin starts unit's next hook (its view is taken) without running it.
func (w *World) Begin(unit string) *jujutest.Hook { return w.Model.Begin(unit) }

// Run runs a begun hook.
func (w *World) Run(ctx context.Context, h *jujutest.Hook) {
	_ = h.Run(ctx, w.Dispatcher(h.Context.Unit.String()))
}

// Commit ends a run hook as Juju does, then checks the invariants.
func (w *World) Commit(h *jujutest.Hook) error {
	err := h.Commit()
	w.afterStep()
	return err
}

// CutOff ends a run hook as a killed process: its writes vanish.
func (w *World) CutOff(h *jujutest.Hook) {
	h.CutOff()
	w.afterStep()
}

func (w *World) afterStep() {
	w.answerPostgres()
	w.mu.Lock()
	w.steps++
	w.mu.Unlock()
	if err := w.CheckState(); err != nil {
		w.violate("after step %d: %v", w.steps, err)
	}
	for _, app := range w.Apps() {
		w.checkRecordMovesOn(app)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for key, n := range w.downloads {
		if n > 1 {
			w.violations = append(w.violations, fmt.Sprintf("after step %d: %s was downloaded %d times", w.steps, key, n))
		}
	}
}

// Ready lists the units with a hook to run whose agent is up.
func (w *World) Ready() []string {
	var ready []string
	for _, u := range w.Model.Ready() {
		if !w.isDown(u) {
			ready = append(ready, u)
		}
	}
	return ready
}

func (w *World) isDown(unit string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.down[unit]
}

// SetDown stops (or restarts) a unit's agent: a down unit runs no hook, so
// it never answers.
func (w *World) SetDown(unit string, down bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if down {
		w.down[unit] = true
	} else {
		delete(w.down, unit)
	}
}

// FailDownloads makes the next n downloads of version fail.
func (w *World) FailDownloads(v string, n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.failNext[v] += n
}

// Reboot reboots unit's machine: every enabled service starts before any
// hook runs (checked like any start), then Juju runs start.
func (w *World) Reboot(unit string) {
	w.Machine(unit).Reboot()
	w.Model.Reboot(unit)
	w.afterStep()
}

// Settle runs hooks round-robin until no unit has one queued, at most max
// hooks; hooks that keep failing count toward max.
func (w *World) Settle(ctx context.Context, max int) error {
	for i := 0; i < max; i++ {
		ready := w.Ready()
		if len(ready) == 0 {
			return nil
		}
		_ = w.Step(ctx, ready[i%len(ready)])
	}
	return fmt.Errorf("charmtest: not settled after %d hooks:\n%s", max, w.Model)
}

// Converge ticks update-status and settles until the record is idle with
// every member running its version (or failed), at most rounds times.
func (w *World) Converge(ctx context.Context, rounds int) error {
	for i := 0; i < rounds; i++ {
		if err := w.Settle(ctx, 10000); err != nil {
			return err
		}
		if err := w.CheckConverged(); err == nil {
			return nil
		}
		w.Model.Tick(5 * time.Minute)
	}
	return w.CheckConverged()
}

// checkRecordMovesOn records a violation when app's record went back.
func (w *World) checkRecordMovesOn(app string) {
	rec, err := w.RecordOf(app)
	if err != nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	a := w.apps[app]
	if rec.Generation < a.maxGeneration || rec.Revision < a.maxRevision {
		if rec.Revision != 0 { // a wiped bag reads as zero until the leader rebuilds it
			w.violations = append(w.violations, fmt.Sprintf("after step %d: the record of %s went back to generation %d revision %d from %d/%d",
				w.steps, app, rec.Generation, rec.Revision, a.maxGeneration, a.maxRevision))
		}
	}
	a.maxGeneration, a.maxRevision = max(a.maxGeneration, rec.Generation), max(a.maxRevision, rec.Revision)
}

// Record is the committed upgrade record of the world's first
// application.
func (w *World) Record() (fsm.Record, error) { return w.RecordOf(w.App) }

// RecordOf is the committed upgrade record of app.
func (w *World) RecordOf(app string) (fsm.Record, error) {
	return fsm.DecodeRecord(w.Model.AppBag(app))
}

// Apps lists the world's applications, sorted.
func (w *World) Apps() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Sorted(maps.Keys(w.apps))
}

// governing is the record of app the invariants judge by: the committed
// one, or, while a wiped application bag reads as a fresh relation, the
// last record committed before it. Units refuse to act on a record that
// went back, and keep (systemd restarts at boot) what the last real one
// allowed.
func (w *World) governing(app string) (fsm.Record, error) {
	rec, err := w.RecordOf(app)
	if err != nil {
		return rec, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	a := w.apps[app]
	if rec.Revision == 0 && a.maxRevision > 0 {
		return a.lastRecord, nil
	}
	if rec.Revision > 0 {
		a.lastRecord = rec
	}
	return rec, nil
}

// Ack is a unit's committed ack.
func (w *World) Ack(unit string) (fsm.Ack, error) {
	return fsm.DecodeAck(w.Model.UnitBag(unit))
}

// Downloads is how many times the release server sent version's tarball.
func (w *World) Downloads(v string) int { return w.Server.Hits(releasetest.ReleasePath(v)) }

// Violations are the invariant breaches seen so far.
func (w *World) Violations() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.violations)
}

func (w *World) violate(format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.violations = append(w.violations, fmt.Sprintf(format, args...))
}

// started checks one start against the committed record: a worker starts
// only on a release the record lets members run, and only on a member; web
// starts only on a release the record gives web, and a unit's web never
// on an older release than it ran before (Concourse migrated the database
// when it started the newer one).
func (w *World) started(unit string, role charm.Role, release version.Version, why string) {
	if why == "boot" {
		// systemd replays the unit's last decision before any hook runs:
		// only what was enabled starts (a worker stopped for an upgrade is
		// disabled), which CheckState judges after the reboot.
		return
	}
	app, _, _ := strings.Cut(unit, "/")
	rec, err := w.governing(app)
	if err != nil {
		w.violate("%s %s on %s: the record does not decode: %v", why, role, unit, err)
		return
	}
	if !rec.IsMember(unit) {
		w.violate("%s %s %s on %s, which record revision %d does not list", why, role, release, unit, rec.Revision)
		return
	}
	allowed := allowedWorker(rec)
	if role == charm.RoleWeb {
		allowed = allowedWeb(rec)
	}
	if !slices.Contains(allowed, release) {
		w.violate("%s %s %s on %s while the committed record (revision %d, %s) allows %v", why, role, release, unit, rec.Revision, rec.Phase, allowed)
	}
	if role == charm.RoleWeb {
		w.mu.Lock()
		if release.Less(w.webSeen[unit]) {
			w.violations = append(w.violations, fmt.Sprintf("web on %s went back from %s to %s", unit, w.webSeen[unit], release))
		}
		if w.webSeen[unit].Less(release) {
			w.webSeen[unit] = release
		}
		w.mu.Unlock()
	}
}

// switching checks one attempt to move a volume's `current` against the
// committed record: a unit acting on that very record (same revision) may
// only point `current` where the record puts it. An attempt fenced by an
// older revision is lag, which storage refuses or the next hook repairs.
func (w *World) switching(unit string, release version.Version, revision uint64) {
	app, _, _ := strings.Cut(unit, "/")
	rec, err := w.governing(app)
	if err != nil || rec.Revision != revision {
		return
	}
	if want := allowedCurrent(rec); release != want {
		w.violate("%s points current at %s while the committed record (revision %d, %s) puts it at %s", unit, release, rec.Revision, rec.Phase, want)
	}
}

// allowedCurrent is where `current` belongs while rec is committed: the
// target only once every member has stopped its worker (DOWNLOADING).
func allowedCurrent(rec fsm.Record) version.Version {
	switch rec.Phase {
	case fsm.PhaseIdle:
		return rec.Version
	case fsm.PhaseDownloading, fsm.PhaseComplete:
		return rec.TargetVersion
	}
	return rec.PreviousVersion
}

// allowedWorker is what a member's worker may run while rec is committed.
// In PREPARE a worker still runs the previous release until its unit acts;
// in DOWNLOADING none runs.
func allowedWorker(rec fsm.Record) []version.Version {
	switch rec.Phase {
	case fsm.PhaseIdle:
		return []version.Version{rec.Version}
	case fsm.PhasePrepare, fsm.PhaseFailed:
		return []version.Version{rec.PreviousVersion}
	case fsm.PhaseComplete:
		return []version.Version{rec.TargetVersion}
	}
	return nil
}

// allowedWeb is what web may start on while rec is committed: the target
// only once COMPLETE is committed, the previous release before.
func allowedWeb(rec fsm.Record) []version.Version {
	switch rec.Phase {
	case fsm.PhaseIdle:
		return []version.Version{rec.Version}
	case fsm.PhaseComplete:
		return []version.Version{rec.TargetVersion}
	}
	return []version.Version{rec.PreviousVersion}
}

// CheckState checks what must hold at every instant, whatever lags: the
// record decodes; in DOWNLOADING no member runs a worker (each reported
// its worker stopped, from what it observed, before the record got there,
// and a stopped worker is disabled, so not even a reboot starts it); in
// IDLE every member runs the settled release (except just after a rebuilt
// or abandoned upgrade, while units restore it). Every start is checked
// against the committed record when it happens (see started): a unit that
// has not run a hook since the record moved may still run what an earlier
// record allowed, as it would under Juju.
func (w *World) CheckState() error {
	var errs []error
	for _, app := range w.Apps() {
		errs = append(errs, w.checkState(app))
	}
	return errors.Join(errs...)
}

func (w *World) checkState(app string) error {
	rec, err := w.governing(app)
	if err != nil {
		return fmt.Errorf("the record of %s does not decode: %w", app, err)
	}
	var errs []error
	for _, unit := range rec.Members {
		m := w.Machine(unit)
		if m == nil || !slices.Contains(w.Model.Units(app), unit) {
			continue
		}
		running := m.Running()
		switch {
		case rec.Phase == fsm.PhaseDownloading:
			if v, ok := running[charm.RoleWorker]; ok {
				errs = append(errs, fmt.Errorf("%s runs worker %s while the record (revision %d) switches releases", unit, v, rec.Revision))
			}
		case rec.Phase == fsm.PhaseIdle && rec.Outcome == fsm.OutcomeFinished:
			for role, v := range running {
				if v != rec.Version {
					errs = append(errs, fmt.Errorf("%s runs %s %s after the upgrade to %s finished (revision %d)", unit, role, v, rec.Version, rec.Revision))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// CheckConverged says whether the cluster is at rest: the record idle with
// every member running its version, or failed with a status that names
// the command to run. Where `current` points is Liveness's to check.
func (w *World) CheckConverged() error {
	var errs []error
	for _, app := range w.Apps() {
		errs = append(errs, w.checkConverged(app))
	}
	return errors.Join(errs...)
}

func (w *World) checkConverged(app string) error {
	rec, err := w.RecordOf(app)
	if err != nil {
		return err
	}
	switch rec.Phase {
	case fsm.PhaseFailed:
		st, _ := w.Model.AppStatus(app)
		if !strings.Contains(st.Message, "juju run "+app+"/leader upgrade-") {
			return fmt.Errorf("failed, but the status does not name the command: %q", st.Message)
		}
		return nil
	case fsm.PhaseIdle:
	default:
		return fmt.Errorf("record in %s (revision %d)", rec.Phase, rec.Revision)
	}
	if rec.Version.IsZero() {
		return errors.New("no release settled yet")
	}
	var errs []error
	for _, unit := range w.Model.Units(app) {
		if !rec.IsMember(unit) {
			errs = append(errs, fmt.Errorf("%s is not a member", unit))
			continue
		}
		for role, v := range w.Machine(unit).Running() {
			if v != rec.Version {
				errs = append(errs, fmt.Errorf("%s runs %s %s, the record says %s", unit, role, v, rec.Version))
			}
		}
		if len(w.Machine(unit).Running()) == 0 {
			errs = append(errs, fmt.Errorf("%s runs nothing", unit))
		}
	}
	return errors.Join(errs...)
}

// currentOf is what the volume at root names as `current`.
func currentOf(root string) (version.Version, error) {
	v, err := storage.OpenVolume(root, storage.WithoutSync())
	if err != nil {
		return version.Version{}, err
	}
	return v.CurrentVersion()
}
