package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/fsm"
	"github.com/concourse-ci-machine/concourse-ci-machine/storage"
)

// demoCluster runs the upgrade protocol for several units in one process,
// keeping Juju's rules: one hook at a time per unit, a hook's writes are
// committed when it ends, only the leader writes the application bag, and
// every record and ack goes through the relation codec. Releases are staged
// and switched on the real shared volume; the systemd units are stand-ins
// that print what they would do (services/ drives the real ones).
type demoCluster struct {
	app    string
	leader string
	units  []*demoUnit
	appBag map[string]string
	bags   map[string]map[string]string
	out    io.Writer
}

// demoUnit implements fsm.Effects for one unit.
type demoUnit struct {
	name string
	// stager puts a release under releases/ without touching `current`;
	// switcher makes it current, fetching it first if it is not there.
	stager, switcher *storage.Installer
	vol              *storage.Volume
	worker           string // the release its worker runs; "" while stopped
	// systemd runs the worker unit for real; nil where no systemd could be
	// started, and then the demo only says what it would do.
	systemd *demoSystemd
	out     io.Writer
}

func newDemoCluster(cfg demoConfig, vol *storage.Volume, baseURL string, systemd *demoSystemd, out io.Writer) (*demoCluster, error) {
	installed, err := vol.CurrentVersion()
	if err != nil {
		return nil, err
	}
	c := &demoCluster{app: cfg.App, leader: cfg.App + "/0", appBag: map[string]string{}, bags: map[string]map[string]string{}, out: out}
	for i := 0; i < cfg.Units; i++ {
		name := fmt.Sprintf("%s/%d", cfg.App, i)
		opts := storage.InstallOptions{
			Unit:    name,
			BaseURL: baseURL,
			OnStep: func(s fsm.InstallStep) {
				fmt.Fprintf(out, "%s    install: %s\n", name, s)
			},
		}
		stager := storage.NewInstaller(vol, opts)
		opts.Activate = true
		switcher := storage.NewInstaller(vol, opts)
		c.units = append(c.units, &demoUnit{name: name, stager: stager, switcher: switcher, vol: vol, worker: installed, systemd: systemd, out: out})
		c.bags[name] = map[string]string{}
	}
	return c, nil
}

func (u *demoUnit) StageRelease(ctx context.Context, v string) error {
	fmt.Fprintf(u.out, "%s  stage release %s under releases/ (current untouched, workers keep running)\n", u.name, v)
	_, err := u.stager.Install(ctx, v)
	return err
}

func (u *demoUnit) StopWorker(ctx context.Context) error {
	fmt.Fprintf(u.out, "%s  land worker (running builds finish), stop %s\n", u.name, workerUnitName(u.name))
	if u.systemd != nil {
		name := workerUnitName(u.name)
		if _, err := u.systemd.mgr.Stop(ctx, name); err != nil {
			return err
		}
		u.systemd.lastLogLine(ctx, u.name, u.out)
	}
	u.worker = ""
	return nil
}

func (u *demoUnit) SwitchRelease(ctx context.Context, v string) error {
	fmt.Fprintf(u.out, "%s  switch current -> releases/%s and verify concourse --version\n", u.name, v)
	_, err := u.switcher.Install(ctx, v)
	return err
}

func (u *demoUnit) StartWorker(ctx context.Context, v string) error {
	current, err := u.vol.CurrentVersion()
	if err != nil {
		return err
	}
	if current != v {
		return fmt.Errorf("refusing to start the worker on %s: current is %s", v, current)
	}
	fmt.Fprintf(u.out, "%s  start %s on %s\n", u.name, workerUnitName(u.name), v)
	if u.systemd != nil {
		if err := u.systemd.mgr.Start(ctx, workerUnitName(u.name)); err != nil {
			return err
		}
		if err := u.systemd.describe(ctx, u.name, u.out); err != nil {
			return err
		}
		u.systemd.lastLogLine(ctx, u.name, u.out)
	}
	u.worker = v
	return nil
}

func (u *demoUnit) RestartWeb(_ context.Context, v string) error {
	fmt.Fprintf(u.out, "%s  restart concourse-server.service on %s (the demo runs no web node: no database)\n", u.name, v)
	return nil
}

func (c *demoCluster) names() []string {
	names := make([]string, len(c.units))
	for i, u := range c.units {
		names[i] = u.name
	}
	return names
}

func (c *demoCluster) record() (fsm.Record, error) { return fsm.DecodeRecord(c.appBag) }

func (c *demoCluster) acks() (map[string]fsm.Ack, error) {
	acks := map[string]fsm.Ack{}
	for name, bag := range c.bags {
		ack, err := fsm.DecodeAck(bag)
		if err != nil {
			return nil, err
		}
		acks[name] = ack
	}
	return acks, nil
}

// upgrade is the `upgrade` action on the leader followed by hooks on every
// unit, round after round, until the record is idle again.
func (c *demoCluster) upgrade(ctx context.Context, target string) error {
	leader := c.units[0]
	rec, err := c.record()
	if err != nil {
		return err
	}
	installed, err := leader.vol.CurrentVersion()
	if err != nil {
		return err
	}
	stage, err := fsm.PlanStage(rec, target)
	if err != nil {
		return err
	}
	// A release that cannot be fetched and verified now fails the action
	// before anything is recorded: draining every worker for a version that
	// does not exist would only cost the teams their builds.
	if err := fsm.Execute(ctx, leader, stage); err != nil {
		return fmt.Errorf("nothing was changed, the workers keep running %s: %w", installed, err)
	}
	rec, err = fsm.Initiate(time.Now(), rec, fsm.InitiateRequest{Target: target, Installed: installed, By: leader.name, Staged: true})
	if err != nil {
		return err
	}
	if err := c.commit(leader.name, nil, &rec); err != nil {
		return err
	}
	if err := c.status(rec); err != nil {
		return err
	}
	for round := 1; round <= 10; round++ {
		for _, u := range c.units {
			if err := c.hook(ctx, u); err != nil {
				return fmt.Errorf("%s: hook failed: %w", u.name, err)
			}
		}
		rec, err := c.record()
		if err != nil {
			return err
		}
		if rec.Phase == fsm.PhaseIdle {
			for _, u := range c.units {
				if u.worker != target {
					return fmt.Errorf("%s runs %q after the upgrade, not %s", u.name, u.worker, target)
				}
			}
			return nil
		}
	}
	return fmt.Errorf("the upgrade did not settle in 10 rounds of hooks")
}

// hook is one relation-changed hook on a unit: its own step, then on the
// leader the leader's step until it has re-checked its own writes.
func (c *demoCluster) hook(ctx context.Context, u *demoUnit) error {
	rec, err := c.record()
	if err != nil {
		return err
	}
	ack, err := fsm.DecodeAck(c.bags[u.name])
	if err != nil {
		return err
	}
	unitStep := func() error {
		next, err := fsm.RunUnitStep(ctx, u, rec, ack)
		ack = next
		return err
	}
	if err := unitStep(); err != nil {
		return err
	}
	if u.name != c.leader {
		return c.commit(u.name, &ack, nil)
	}
	// The leader re-checks its own writes (Juju sends it no relation-changed
	// for them) and commits them all when the hook ends, as Juju does.
	for i := 0; i < 10; i++ {
		acks, err := c.acks()
		if err != nil {
			return err
		}
		acks[u.name] = ack
		next, err := fsm.RunLeaderStep(ctx, u, time.Now(), rec, acks, c.names())
		if err != nil {
			return err
		}
		if next == rec {
			return c.commit(u.name, &ack, &rec)
		}
		if next.Phase != rec.Phase {
			fmt.Fprintf(c.out, "%s  upgrade record: %s -> %s (generation %d)\n", u.name, rec.Phase, next.Phase, next.Generation)
		}
		rec = next
		if err := c.status(rec); err != nil {
			return err
		}
		if err := unitStep(); err != nil {
			return err
		}
	}
	return fmt.Errorf("the leader's hook did not reach a fixed point")
}

// commit writes what a hook set, as relation-set does when the hook ends.
func (c *demoCluster) commit(unit string, ack *fsm.Ack, rec *fsm.Record) error {
	if ack != nil {
		bag, err := fsm.EncodeAck(*ack)
		if err != nil {
			return err
		}
		maps.Copy(c.bags[unit], bag)
	}
	if rec != nil {
		if unit != c.leader {
			return fmt.Errorf("%s is not the leader and may not write the application bag", unit)
		}
		bag, err := fsm.EncodeRecord(*rec)
		if err != nil {
			return err
		}
		c.appBag = bag
	}
	return nil
}

// status prints what `juju status` would show for rec.
func (c *demoCluster) status(rec fsm.Record) error {
	acks, err := c.acks()
	if err != nil {
		return err
	}
	st := fsm.StatusOf(c.app, rec, acks, c.names())
	fmt.Fprintf(c.out, "   juju status: %s %q\n", st.Level, st.Message)
	return nil
}
