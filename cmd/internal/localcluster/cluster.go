// Package localcluster runs a Juju application of the real, built charm on
// one machine: every hook is a `dispatch` process with Juju's environment,
// its hook tools answer from an in-memory Juju (relation/jujutest) over a
// unix socket, units run hooks concurrently (one at a time each, as Juju
// does), their services run on a real private systemd
// (services/systemdtest), the release comes from a loopback server, and
// every unit's volume is one shared directory. The demo and the tests of the
// built binary drive it; the shipped binary never links it.
package localcluster

import (
	"context"
	"fmt"
	"io/fs"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/charm"
	"github.com/concourse-ci-machine/concourse-ci-machine/concourse"
	"github.com/concourse-ci-machine/concourse-ci-machine/fsm"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/unitname"
	"github.com/concourse-ci-machine/concourse-ci-machine/relation/jujutest"
	"github.com/concourse-ci-machine/concourse-ci-machine/services"
	"github.com/concourse-ci-machine/concourse-ci-machine/services/systemdtest"
	"github.com/concourse-ci-machine/concourse-ci-machine/storage/releasetest"
)

// Options describe a cluster.
type Options struct {
	App   string // "concourse" when empty
	Units int
	// Config overrides the charm's defaults (mode, ...).
	Config map[string]any
	// Releases are the versions the loopback server publishes; the first
	// is deployed.
	Releases []string
	// Dispatch is the built concourse-ci-machine binary.
	Dispatch string
	// Multi is a program that acts as a hook tool when run under a tool's
	// name (jujutest/jujuc) and as the fake Concourse when FAKE_CONCOURSE=1
	// (internal/fakeconcourse).
	Multi string
	// Root holds the cluster's files; units must see it (not under /tmp).
	Root    string
	Systemd *systemdtest.Instance
	// DrainAfter is how long a fake worker takes to land.
	DrainAfter time.Duration
	// Concourse, when set, is a real concourse binary (where the units see
	// it): every release published runs it, so Releases name its version.
	Concourse string
	// Postgres is what the PostgreSQL provider answers (postgresql_client
	// keys: endpoints, username, password, database); empty: an address no
	// web reaches, for the fake Concourse.
	Postgres map[string]string
	// Timeline, when set, hears of every transition.
	Timeline func(Event)
	// HookLog, when set, gets every line a dispatch printed.
	HookLog func(unit, line string)
}

// Event is one transition worth showing.
type Event struct {
	At   time.Duration // since the cluster started
	Unit string        // "" for the application
	What string
}

// Cluster is a running local application.
type Cluster struct {
	opts     Options
	Model    *jujutest.Model
	Server   *releasetest.Server
	tools    *jujutest.Server
	dispatch jujutest.Dispatcher
	systemd  *services.Manager
	start    time.Time
	volume   string
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup

	mu        sync.Mutex
	statuses  map[string]string
	phase     string
	firstHook map[string]time.Time
	active    map[string]time.Time
	workers   map[string]*downtime
	took      map[string][]time.Duration // hook name -> wall time of each run
}

// downtime follows one unit's worker service.
type downtime struct {
	running bool
	since   time.Time
	down    time.Duration // total time stopped after it first ran
	ran     bool
}

// Start builds the cluster and starts its drivers; add units with Deploy.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	if opts.App == "" {
		opts.App = "concourse"
	}
	c := &Cluster{opts: opts, start: time.Now(), volume: filepath.Join(opts.Root, "volume"),
		statuses: map[string]string{}, firstHook: map[string]time.Time{}, active: map[string]time.Time{}, workers: map[string]*downtime{},
		took: map[string][]time.Duration{}}
	c.ctx, c.cancel = context.WithCancel(ctx)
	for _, d := range []string{c.volume, c.dir("state"), c.dir("fake"), c.dir("charm")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	c.Server = releasetest.NewServer()
	for _, v := range opts.Releases {
		wrapper := fmt.Sprintf("#!/bin/sh\nexport FAKE_CONCOURSE=1 FAKE_CONCOURSE_DIR='%s' FAKE_CONCOURSE_DRAIN_AFTER=%s FAKE_CONCOURSE_VERSION=%s\nexec '%s' \"$@\"\n",
			c.dir("fake"), opts.DrainAfter, v, opts.Multi)
		if opts.Concourse != "" {
			wrapper = fmt.Sprintf("#!/bin/sh\nexec '%s' \"$@\"\n", opts.Concourse)
		}
		tarball, err := releasetest.Build(releasetest.Spec{Version: v, Binary: []byte(wrapper)})
		if err != nil {
			c.Close()
			return nil, err
		}
		c.Server.AddRelease(v, tarball)
	}
	cfg := charm.DefaultConfig()
	cfg["release-url"] = c.Server.BaseURL() + "/v{version}/concourse-{version}-linux-amd64.tgz"
	cfg["version"] = opts.Releases[0]
	cfg["drain-timeout"] = "90s"
	// Every unit runs on this one machine, which has one containerd: the
	// charm refuses a second containerd worker (charm/preconditions.go).
	cfg["worker-runtime"] = "houdini"
	maps.Copy(cfg, opts.Config)
	c.Model = jujutest.NewModel("local", time.Now())
	c.Model.Deploy(opts.App, c.dir("charm"), cfg)
	pg := c.Model.RelateRemote(opts.App, "postgresql", "postgresql", "database")
	pgData := opts.Postgres
	if len(pgData) == 0 {
		pgData = map[string]string{"endpoints": "127.0.0.1:5432", "username": "concourse", "password": "local-demo", "database": "concourse", "version": "15.0"}
	}
	c.Model.SetRemoteData(pg, pgData)

	agent, err := os.MkdirTemp("", "localcluster-agent-") // a short path: unix socket paths are limited
	if err != nil {
		c.Close()
		return nil, err
	}
	c.tools, err = jujutest.Serve(agent, opts.Multi)
	if err != nil {
		os.RemoveAll(agent)
		c.Close()
		return nil, err
	}
	env := []string{
		"CONCOURSE_CHARM_SYSTEMD_SOCKET=" + opts.Systemd.PrivateSocket,
		"CONCOURSE_CHARM_SYSTEMD_ROOT=" + opts.Systemd.ManagerRoot,
		"CONCOURSE_CHARM_STATE_DIR=" + c.dir("state"),
	}
	c.dispatch = c.tools.ProcessDispatcher(opts.Dispatch, env, opts.HookLog)
	c.systemd, err = services.Connect(ctx, services.Config{Endpoint: services.PrivateSocket(opts.Systemd.PrivateSocket), Root: opts.Systemd.ManagerRoot})
	if err != nil {
		c.Close()
		return nil, err
	}
	c.wg.Add(1)
	go c.watchWorkers()
	return c, nil
}

func (c *Cluster) dir(name string) string { return filepath.Join(c.opts.Root, name) }

// Close stops the drivers and closes what the cluster opened. Services
// keep running on the systemd until it stops.
func (c *Cluster) Close() {
	c.cancel()
	c.wg.Wait()
	if c.tools != nil {
		_ = c.tools.Close()
		_ = os.RemoveAll(filepath.Dir(c.tools.Socket))
	}
	if c.systemd != nil {
		c.systemd.Close()
	}
	if c.Server != nil {
		c.Server.Close()
	}
}

func (c *Cluster) event(unit, format string, args ...any) {
	if c.opts.Timeline != nil {
		c.opts.Timeline(Event{At: time.Since(c.start), Unit: unit, What: fmt.Sprintf(format, args...)})
	}
}

// Tools is the hook tools' server: its call log, its faults.
func (c *Cluster) Tools() *jujutest.Server { return c.tools }

// AddUnit adds a unit and starts its driver: it runs the unit's hooks as
// dispatch processes, one at a time, as Juju's unit agent does.
func (c *Cluster) AddUnit() string {
	u := c.Model.AddUnit(c.opts.App, c.volume).Name.String()
	c.event(u, "added")
	c.wg.Add(1)
	go c.drive(u)
	return u
}

func (c *Cluster) drive(unit string) {
	defer c.wg.Done()
	for c.ctx.Err() == nil {
		h := c.Model.Begin(unit)
		if h == nil {
			select {
			case <-c.ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
			continue
		}
		c.mu.Lock()
		if c.firstHook[unit].IsZero() {
			c.firstHook[unit] = time.Now()
		}
		c.mu.Unlock()
		began := time.Now()
		_ = h.Run(c.ctx, c.dispatch)
		c.mu.Lock()
		name := h.Event.Hook
		if h.Event.Action != nil {
			name = "action " + h.Event.Action.Name
		}
		c.took[name] = append(c.took[name], time.Since(began))
		c.mu.Unlock()
		if err := h.Commit(); err != nil && c.ctx.Err() == nil {
			c.event(unit, "%s failed (Juju retries it): %v", h.Event, firstLine(err.Error()))
		}
		c.observe(unit)
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// observe notes the unit's status and the record's phase after a hook.
func (c *Cluster) observe(unit string) {
	st := c.Model.Status(unit).String()
	rec, err := fsm.DecodeRecord(c.Model.AppBag(c.opts.App))
	c.mu.Lock()
	changed := st != c.statuses[unit]
	c.statuses[unit] = st
	if strings.HasPrefix(st, "active") && c.active[unit].IsZero() {
		c.active[unit] = time.Now()
	}
	phase := ""
	if err == nil {
		phase = fmt.Sprintf("%s (generation %d, revision %d)", rec.Phase, rec.Generation, rec.Revision)
	}
	phaseChanged := err == nil && phase != c.phase
	c.phase = phase
	c.mu.Unlock()
	if phaseChanged && rec.Revision > 0 {
		c.event("", "record: %s", phase)
	}
	if changed {
		c.event(unit, "%s", st)
	}
}

// watchWorkers follows every worker service on the systemd, for the
// downtime figures.
func (c *Cluster) watchWorkers() {
	defer c.wg.Done()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-tick.C:
		}
		for _, u := range c.Model.Units(c.opts.App) {
			name := services.WorkerUnitName(unitname.MustParse(u))
			st, err := c.systemd.State(c.ctx, name)
			running := err == nil && st.Active()
			now := time.Now()
			c.mu.Lock()
			d := c.workers[u]
			if d == nil {
				d = &downtime{}
				c.workers[u] = d
			}
			if running != d.running {
				if !running && d.ran {
					d.since = now
				}
				if running && d.ran {
					d.down += now.Sub(d.since)
				}
				d.running, d.ran = running, d.ran || running
				c.mu.Unlock()
				c.event(u, "worker %s", map[bool]string{true: "running", false: "stopped"}[running])
				continue
			}
			c.mu.Unlock()
		}
	}
}

// Took lists the wall time of every run of a hook ("action NAME" for an
// action), dispatch process included.
func (c *Cluster) Took(hook string) []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.took[hook])
}

// WaitFor waits until cond holds, checking every 50 ms, at most timeout.
func (c *Cluster) WaitFor(ctx context.Context, timeout time.Duration, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("localcluster: %s not reached within %s:\n%s", what, timeout, c.Model)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Deploy adds n units and waits until every one is active.
func (c *Cluster) Deploy(ctx context.Context, n int, timeout time.Duration) error {
	for i := 0; i < n; i++ {
		c.AddUnit()
	}
	return c.WaitFor(ctx, timeout, "every unit active", func() (bool, error) {
		return c.allActive(c.opts.Releases[0])
	})
}

// allActive says whether the record is idle on v and every unit says
// active; a blocked unit is an error.
func (c *Cluster) allActive(v string) (bool, error) {
	rec, err := fsm.DecodeRecord(c.Model.AppBag(c.opts.App))
	if err != nil {
		return false, err
	}
	if rec.Phase != fsm.PhaseIdle || rec.Version.String() != v {
		return false, nil
	}
	for _, u := range c.Model.Units(c.opts.App) {
		st := c.Model.Status(u)
		if st.State == "blocked" {
			return false, fmt.Errorf("localcluster: %s is blocked: %s", u, st.Message)
		}
		if st.State != "active" || !strings.Contains(st.Message, v) {
			return false, nil
		}
	}
	return true, nil
}

// Upgrade runs `juju run <leader> upgrade version=v` and waits until every
// unit runs v. It returns the action's results.
func (c *Cluster) Upgrade(ctx context.Context, v string, timeout time.Duration) (map[string]string, error) {
	leader := c.Model.Leader(c.opts.App)
	c.event(leader, "juju run %s upgrade version=%s", leader, v)
	a := c.Model.RunAction(leader, fsm.ActionUpgrade, map[string]any{"version": v})
	err := c.WaitFor(ctx, timeout, "the upgrade action", func() (bool, error) { return a.Done, nil })
	if err != nil {
		return nil, err
	}
	if a.Failed {
		return a.Results, fmt.Errorf("localcluster: upgrade failed: %s", a.Message)
	}
	ticker := time.NewTicker(3 * time.Second)
	defer ticker.Stop()
	return a.Results, c.WaitFor(ctx, timeout, "every unit on "+v, func() (bool, error) {
		select {
		case <-ticker.C:
			// update-status, the only clock Juju gives a charm: a lone
			// unit hears of nothing else.
			c.Model.Tick(5 * time.Minute)
		default:
		}
		return c.allActive(v)
	})
}

// CheckConcourse asks web's API what an operator would, for a real
// Concourse (Options.Concourse): its version (/api/v1/info), and the
// workers registered, waiting until want of them run. It logs in as the
// initial admin with the password get-admin-password gives.
func (c *Cluster) CheckConcourse(ctx context.Context, want int, timeout time.Duration) (concourse.Info, []concourse.Worker, error) {
	var info concourse.Info
	leader := c.Model.Leader(c.opts.App)
	a := c.Model.RunAction(leader, fsm.ActionGetAdminPassword, nil)
	if err := c.WaitFor(ctx, timeout, "the get-admin-password action", func() (bool, error) { return a.Done, nil }); err != nil {
		return info, nil, err
	}
	if a.Failed {
		return info, nil, fmt.Errorf("localcluster: get-admin-password failed: %s", a.Message)
	}
	n, err := unitname.Parse(leader)
	if err != nil {
		return info, nil, err
	}
	ports, err := concourse.PortsFor(n.Number, concourse.DefaultWebPort) // the demo leaves web-port alone
	if err != nil {
		return info, nil, err
	}
	client, err := concourse.NewClient(fmt.Sprintf("http://127.0.0.1:%d", ports.Web), a.Results["username"], a.Results["password"],
		&http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil}})
	if err != nil {
		return info, nil, err
	}
	var workers []concourse.Worker
	var last error
	err = c.WaitFor(ctx, timeout, fmt.Sprintf("%d running workers in web's API", want), func() (bool, error) {
		if info, last = client.Info(ctx); last != nil {
			return false, nil
		}
		if workers, last = client.Workers(ctx); last != nil {
			return false, nil
		}
		running := 0
		for _, w := range workers {
			if w.State == concourse.WorkerRunning {
				running++
			}
		}
		return running >= want, nil
	})
	if err != nil && last != nil {
		err = fmt.Errorf("%w (web's API last said: %v)", err, last)
	}
	return info, workers, err
}

// Summary is what the demo reports.
type Summary struct {
	App                 string             `json:"app"`
	Units               int                `json:"units"`
	Mode                string             `json:"mode"`
	Phase               string             `json:"phase"`
	Version             string             `json:"version"`
	DownloadsPerVersion map[string]int     `json:"downloads_per_version"`
	ReleaseBytes        int64              `json:"release_bytes"`
	VolumeBytes         int64              `json:"volume_bytes"`
	VolumeRatio         float64            `json:"volume_to_release_ratio"`
	KeptReleases        []string           `json:"kept_releases"`
	InstallSeconds      map[string]float64 `json:"install_seconds"`
	UpgradeSeconds      float64            `json:"upgrade_seconds"`
	WorkerDowntime      map[string]float64 `json:"worker_downtime_seconds"` // units that run a worker

	WorkersRunning map[string]string `json:"workers_running"`
	HooksRun       int               `json:"hooks_run"`

	// API is what a real Concourse's web answered (demo --concourse).
	API *APICheck `json:"api,omitempty"`
}

// APICheck is what web's API said: /api/v1/info's version and the workers
// registered, by name and state.
type APICheck struct {
	Version string            `json:"version"`
	Workers map[string]string `json:"workers"`
}

// Summarize measures the cluster now; upgrade is the upgrade's wall time.
func (c *Cluster) Summarize(upgrade time.Duration) (Summary, error) {
	rec, err := fsm.DecodeRecord(c.Model.AppBag(c.opts.App))
	if err != nil {
		return Summary{}, err
	}
	s := Summary{App: c.opts.App, Units: len(c.Model.Units(c.opts.App)), Mode: string(charm.ModeAuto),
		Phase: rec.Phase.String(), Version: rec.Version.String(), DownloadsPerVersion: map[string]int{},
		InstallSeconds: map[string]float64{}, WorkerDowntime: map[string]float64{}, WorkersRunning: map[string]string{},
		UpgradeSeconds: upgrade.Seconds(), HooksRun: c.Model.HooksRun()}
	if mode, ok := c.opts.Config["mode"]; ok {
		s.Mode = fmt.Sprint(mode)
	}
	for _, v := range c.opts.Releases {
		s.DownloadsPerVersion[v] = c.Server.Hits(releasetest.ReleasePath(v))
	}
	releases, _ := os.ReadDir(filepath.Join(c.volume, "releases"))
	for _, r := range releases {
		if r.IsDir() && !strings.Contains(r.Name(), ".partial-") {
			s.KeptReleases = append(s.KeptReleases, r.Name())
		}
	}
	slices.Sort(s.KeptReleases)
	if len(s.KeptReleases) > 0 {
		s.ReleaseBytes = treeBytes(filepath.Join(c.volume, "releases", s.KeptReleases[0]))
	}
	s.VolumeBytes = treeBytes(filepath.Join(c.volume, "releases"))
	if s.ReleaseBytes > 0 {
		s.VolumeRatio = float64(s.VolumeBytes) / float64(s.ReleaseBytes)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for u, first := range c.firstHook {
		if at := c.active[u]; !at.IsZero() {
			s.InstallSeconds[u] = at.Sub(first).Seconds()
		}
	}
	for u, d := range c.workers {
		if d.ran {
			s.WorkerDowntime[u] = d.down.Seconds()
		}
	}
	for _, u := range c.Model.Units(c.opts.App) {
		// The model's, not the last one observe printed: the wait that
		// ended the upgrade read the model, which observe may trail.
		s.WorkersRunning[u] = c.Model.Status(u).String()
	}
	return s, nil
}

// treeBytes is the size of the regular files under dir.
func treeBytes(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if info, err := d.Info(); err == nil && info.Mode().IsRegular() {
			n += info.Size()
		}
		return nil
	})
	return n
}
