package services

import (
	"context"
	"errors"
	"time"
)

// settlePoll is how often a settling service is looked at.
const settlePoll = 50 * time.Millisecond

// jobCall is one of go-systemd's Start/StopUnitContext.
type jobCall func(ctx context.Context, name, mode string, ch chan<- string) (int, error)

// Start starts the unit and waits for the job; the service must then stay up
// for Config.StartSettle. Starting an active unit is a no-op success.
// Errors: *StartFailedError (with the unit's last log lines),
// *DependencyFailedError, *JobTimeoutError, *CancelledError,
// *UnitNotFoundError, *BusError.
func (m *Manager) Start(ctx context.Context, name string) error {
	if err := checkUnitName("unit name", name); err != nil {
		return err
	}
	return m.start(ctx, "start", name)
}

// Restart stops the unit as Stop does (a worker drains) and starts it
// again, returning how the stop went. It is a stop job and then a start
// job, not systemd's restart: systemd forgets how the old main process
// ended as soon as the new one starts, and that is what the result is made
// of. Errors are Stop's and Start's.
func (m *Manager) Restart(ctx context.Context, name string) (DrainResult, error) {
	if err := checkUnitName("unit name", name); err != nil {
		return DrainResult{}, err
	}
	res, err := m.stop(ctx, "restart", name, false)
	if err != nil {
		return res, err
	}
	return res, m.start(ctx, "restart", name)
}

// Stop stops the unit and waits until it is down, and says how it went
// (DrainResult): for a worker, whether it drained, was not heard by the
// ATC, had to be terminated or killed. Stopping a stopped unit is a no-op
// (Outcome NotRunning). It removes a retire flag left by an interrupted
// Retire first, so the worker lands. The wait is Config.JobTimeout plus the
// unit's own stop timeout. Errors: *DrainHelperError, *JobTimeoutError,
// *CancelledError, *JobError, *UnitNotFoundError, *BusError.
func (m *Manager) Stop(ctx context.Context, name string) (DrainResult, error) {
	if err := checkUnitName("unit name", name); err != nil {
		return DrainResult{}, err
	}
	return m.stop(ctx, "stop", name, false)
}

func (m *Manager) start(ctx context.Context, op, name string) error {
	before, err := m.state(ctx, op, name)
	if err != nil {
		return err
	}
	if err := m.runJob(ctx, op, name, m.conn.StartUnitContext, m.cfg.JobTimeout); err != nil {
		return err
	}
	if m.cfg.StartSettle < 0 {
		return nil
	}
	after, err := m.state(ctx, op, name)
	if err != nil {
		return err
	}
	if before.Active() && after.Active() && after.MainPID == before.MainPID {
		return nil // it was already running: nothing was started
	}
	return m.settle(ctx, op, name, before.NRestarts, after)
}

// runJob enqueues a job and waits for its result, at most timeout (and
// never past ctx). go-systemd sends the result while holding a lock, hence
// the buffered channel; it does not watch ctx, hence the select.
func (m *Manager) runJob(ctx context.Context, op, name string, call jobCall, timeout time.Duration) error {
	started := time.Now()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	result := make(chan string, 1)
	if _, err := call(ctx, name, "replace", result); err != nil {
		return m.callError(ctx, op, name, err)
	}
	// A dead bus never delivers the result: look at the connection now and
	// then rather than waiting for the whole timeout.
	alive := time.NewTicker(time.Second)
	defer alive.Stop()
	for {
		select {
		case r := <-result:
			return m.jobResult(ctx, op, name, r)
		case <-alive.C:
			if !m.conn.Connected() {
				return m.busError(ctx, op, name, errors.New("connection lost while waiting for the job"))
			}
		case <-timer.C:
			return &JobTimeoutError{Unit: name, Op: op, Waited: time.Since(started)}
		case <-ctx.Done():
			return &CancelledError{Unit: name, Op: op, Err: ctx.Err()}
		}
	}
}

// jobResult turns systemd's job result into nil or the error that says
// which of the things that can go wrong happened.
func (m *Manager) jobResult(ctx context.Context, op, name, result string) error {
	switch {
	case result == "done":
		return nil
	case result == "timeout":
		return &JobTimeoutError{Unit: name, Op: op, BySystemd: true}
	case result == "dependency":
		return &DependencyFailedError{Unit: name, Op: op, Status: m.status(ctx, op, name)}
	case result == "failed" && (op == "start" || op == "restart"):
		return &StartFailedError{Unit: name, Op: op, Status: m.status(ctx, op, name)}
	}
	return &JobError{Unit: name, Op: op, Result: result, Status: m.status(ctx, op, name)}
}

// settle watches a freshly started service, first seen as st, for
// Config.StartSettle: if its main process dies (it leaves "active", or
// systemd restarts it), the start failed even though the job succeeded.
func (m *Manager) settle(ctx context.Context, op, name string, restartsBefore uint32, st State) error {
	deadline := time.Now().Add(m.cfg.StartSettle)
	tick := time.NewTicker(settlePoll)
	defer tick.Stop()
	var firstPID uint32
	for {
		if firstPID == 0 {
			firstPID = st.MainPID
		}
		if !st.Active() || st.NRestarts != restartsBefore || st.MainPID != firstPID {
			return &StartFailedError{Unit: name, Op: op, ExitedAfterStart: true, Status: m.status(ctx, op, name)}
		}
		if !time.Now().Before(deadline) {
			return nil
		}
		select {
		case <-ctx.Done():
			return &CancelledError{Unit: name, Op: op, Err: ctx.Err()}
		case <-tick.C:
		}
		var err error
		if st, err = m.state(ctx, op, name); err != nil {
			return err
		}
	}
}

// status describes the unit for an error, with its log tail. It reads with
// a fresh deadline: the caller's may be what just ran out.
func (m *Manager) status(ctx context.Context, op, name string) UnitStatus {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var s UnitStatus
	if st, err := m.state(ctx, op, name); err == nil {
		s = st.status()
	}
	s.LogTail = m.LogTail(ctx, name)
	return s
}
