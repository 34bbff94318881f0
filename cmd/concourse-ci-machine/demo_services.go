package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/unitname"
	"github.com/concourse-ci-machine/concourse-ci-machine/services"
	"github.com/concourse-ci-machine/concourse-ci-machine/services/systemdtest"
	"github.com/concourse-ci-machine/concourse-ci-machine/storage"
)

// demoSystemd is a private system-mode systemd (the same one the services
// tests start) in which the demo runs one real worker unit per unit, so the
// upgrade really drains, stops and starts them over D-Bus.
type demoSystemd struct {
	inst *systemdtest.Instance
	mgr  *services.Manager
}

// startDemoSystemd starts the private systemd, or says why it cannot.
func startDemoSystemd(ctx context.Context) (*demoSystemd, error) {
	inst, err := systemdtest.Start(ctx)
	if err != nil {
		return nil, err
	}
	mgr, err := services.Connect(ctx, services.Config{
		Endpoint: services.PrivateSocket(inst.PrivateSocket),
		Root:     inst.ManagerRoot,
		// The fake worker starts in milliseconds; a short settle keeps the
		// demo quick while still catching a worker that dies at once.
		StartSettle: 500 * time.Millisecond,
	})
	if err != nil {
		return nil, errors.Join(err, inst.Stop())
	}
	return &demoSystemd{inst: inst, mgr: mgr}, nil
}

func (d *demoSystemd) stop() error {
	d.mgr.Close()
	return d.inst.Stop()
}

// workerUnitName is one unit's worker service.
func workerUnitName(unit string) string {
	return services.WorkerUnitName(unitname.MustParse(unit))
}

// installWorker renders and starts the unit's worker: it runs the release
// `current` points at, so a switch of `current` is what a restart picks up.
func (d *demoSystemd) installWorker(ctx context.Context, vol *storage.Volume, unit string, out io.Writer) error {
	workDir, err := vol.WorkerDir(unit)
	if err != nil {
		return err
	}
	name := workerUnitName(unit)
	self, err := os.Executable()
	if err != nil {
		return err
	}
	uf, err := services.WorkerUnit{
		Unit:         unitname.MustParse(unit),
		Description:  "Concourse CI worker of demo unit " + unit,
		Command:      []string{vol.Path(storage.CurrentLink, filepath.FromSlash(storage.ReleaseBinary)), "worker"},
		DrainHelper:  []string{self, "drain-worker"},
		WorkDir:      workDir,
		LogFile:      filepath.Join(d.inst.ScratchDir, strings.TrimSuffix(name, ".service")+".log"),
		DrainTimeout: 30 * time.Second,
	}.Render()
	if err != nil {
		return err
	}
	if _, err := d.mgr.Install(ctx, uf); err != nil {
		return err
	}
	if err := d.mgr.Start(ctx, name); err != nil {
		return err
	}
	return d.describe(ctx, unit, out)
}

// describe prints the worker unit's state as systemd reports it.
func (d *demoSystemd) describe(ctx context.Context, unit string, out io.Writer) error {
	st, err := d.mgr.State(ctx, workerUnitName(unit))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s  %s: %s/%s, main pid %d\n", unit, st.Unit, st.ActiveState, st.SubState, st.MainPID)
	return nil
}

// lastLogLine prints the worker's latest log line, which says what the
// worker process itself did (running, landed, retired); the drain helper's
// lines in the same log are skipped.
func (d *demoSystemd) lastLogLine(ctx context.Context, unit string, out io.Writer) {
	tail := d.mgr.LogTail(ctx, workerUnitName(unit))
	for i := len(tail) - 1; i >= 0; i-- {
		if !strings.HasPrefix(tail[i], "drain-worker:") {
			fmt.Fprintf(out, "%s    worker log: %s\n", unit, tail[i])
			return
		}
	}
}

// removeWorkers stops and removes every demo worker unit, retiring them.
func (d *demoSystemd) removeWorkers(ctx context.Context, units []string, out io.Writer) error {
	var errs []error
	for _, unit := range units {
		name := workerUnitName(unit)
		fmt.Fprintf(out, "%s  retire and remove %s\n", unit, name)
		_, err := d.mgr.Retire(ctx, name, nil)
		errs = append(errs, err)
		d.lastLogLine(ctx, unit, out)
		_, err = d.mgr.Uninstall(ctx, name)
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
