package services

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// settlePoll is how often a settling service is looked at.
const settlePoll = 50 * time.Millisecond

// jobCall is one of go-systemd's Start/Stop/RestartUnitContext.
type jobCall func(ctx context.Context, name, mode string, ch chan<- string) (int, error)

// Start starts the unit and waits for the job; the service must then stay up
// for Config.StartSettle. Starting an active unit is a no-op success.
func (m *Manager) Start(ctx context.Context, name string) error {
	return m.startOrRestart(ctx, "start", name, m.conn.StartUnitContext)
}

// Restart restarts the unit (a worker lands first: its KillSignal applies)
// and waits for the job; the new process must then stay up for
// Config.StartSettle.
func (m *Manager) Restart(ctx context.Context, name string) error {
	return m.startOrRestart(ctx, "restart", name, m.conn.RestartUnitContext)
}

// Stop stops the unit and waits until it is down: for a worker, until it
// landed or its drain timeout ran out. The latter returns a
// *KilledAtStopTimeoutError although the unit is stopped.
func (m *Manager) Stop(ctx context.Context, name string) error {
	return m.stop(ctx, "stop", name)
}

func (m *Manager) startOrRestart(ctx context.Context, op, name string, call jobCall) error {
	if err := checkUnitName("unit name", name); err != nil {
		return err
	}
	before, err := m.state(ctx, op, name)
	if err != nil {
		return err
	}
	timeout := m.cfg.JobTimeout
	if op == "restart" {
		timeout += before.StopTimeout
	}
	if err := m.runJob(ctx, op, name, call, timeout); err != nil {
		return err
	}
	if m.cfg.StartSettle < 0 {
		return nil
	}
	after, err := m.state(ctx, op, name)
	if err != nil {
		return err
	}
	if op == "start" && before.Active() && after.Active() && after.MainPID == before.MainPID {
		return nil // it was already running: nothing was started
	}
	return m.settle(ctx, op, name, before.NRestarts)
}

func (m *Manager) stop(ctx context.Context, op, name string) error {
	if err := checkUnitName("unit name", name); err != nil {
		return err
	}
	before, err := m.state(ctx, op, name)
	if err != nil {
		return err
	}
	if err := m.runJob(ctx, op, name, m.conn.StopUnitContext, m.cfg.JobTimeout+before.StopTimeout); err != nil {
		return err
	}
	if !before.running() {
		return nil // nothing ran, so an old Result says nothing about this stop
	}
	after, err := m.state(ctx, op, name)
	if err != nil {
		return err
	}
	if after.Result == "timeout" {
		return &KilledAtStopTimeoutError{Unit: name, Op: op, Timeout: before.StopTimeout}
	}
	return nil
}

// runJob enqueues a job and waits for its result, at most timeout (and
// never past ctx). go-systemd sends the result while holding a lock, hence
// the buffered channel; it does not watch ctx, hence the select.
func (m *Manager) runJob(ctx context.Context, op, name string, call jobCall, timeout time.Duration) error {
	waitCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	started := time.Now()
	result := make(chan string, 1)
	if _, err := call(waitCtx, name, "replace", result); err != nil {
		if !isNoSuchUnit(err) && ctx.Err() == nil && waitCtx.Err() != nil {
			return &JobTimeoutError{Unit: name, Op: op, Waited: time.Since(started), Err: waitCtx.Err()}
		}
		return m.callError(op, name, err)
	}
	// A dead bus never delivers the result: look at the connection now and
	// then rather than waiting for the whole timeout.
	alive := time.NewTicker(time.Second)
	defer alive.Stop()
	for {
		select {
		case r := <-result:
			if r != "done" {
				return m.jobError(ctx, op, name, r, false)
			}
			return nil
		case <-alive.C:
			if !m.conn.Connected() {
				return m.busError(op+" "+name, errors.New("connection lost while waiting for the job"))
			}
		case <-waitCtx.Done():
			if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("services: %s %s: %w", op, name, ctx.Err())
			}
			return &JobTimeoutError{Unit: name, Op: op, Waited: time.Since(started), Err: waitCtx.Err()}
		}
	}
}

// settle watches a freshly started service for Config.StartSettle: if its
// main process dies (it leaves "active", or systemd restarts it), the start
// failed even though the job succeeded.
func (m *Manager) settle(ctx context.Context, op, name string, restartsBefore uint32) error {
	deadline := time.Now().Add(m.cfg.StartSettle)
	tick := time.NewTicker(settlePoll)
	defer tick.Stop()
	var firstPID uint32
	for {
		st, err := m.state(ctx, op, name)
		if err != nil {
			return err
		}
		if firstPID == 0 {
			firstPID = st.MainPID
		}
		if !st.Active() || st.NRestarts != restartsBefore || st.MainPID != firstPID {
			return m.jobError(ctx, op, name, "done", true)
		}
		if !time.Now().Before(deadline) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("services: %s %s: %w", op, name, ctx.Err())
		case <-tick.C:
		}
	}
}

// jobError describes a failed job with the unit's state and log tail. It
// reads them with a fresh deadline: the caller's may be what just ran out.
func (m *Manager) jobError(ctx context.Context, op, name, result string, exitedAfterStart bool) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	e := &JobError{Unit: name, Op: op, Result: result, ExitedAfterStart: exitedAfterStart}
	if st, err := m.state(ctx, op, name); err == nil {
		e.ActiveState, e.SubState, e.UnitResult, e.ExecMainStatus = st.ActiveState, st.SubState, st.Result, st.ExecMainStatus
	}
	e.LogTail = m.LogTail(ctx, name)
	return e
}
