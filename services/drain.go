package services

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/fsutil"
)

// retireDropInName is the drop-in Retire puts in place during one stop.
const retireDropInName = "50-concourse-retire.conf"

// Retire stops a worker that is going away for good (the unit is being
// removed): it sends the retire signal instead of the land signal, so the
// ATC forgets the worker once its builds finished, within the same drain
// timeout. Call Uninstall afterwards.
//
// How: a drop-in sets KillSignal to the retire signal, systemd reloads, and
// an ordinary stop job runs, so systemd itself enforces the drain timeout
// and a stop job is pending (Restart=on-failure cannot bring the worker back
// meanwhile). Signalling the process directly and then stopping would not
// do: the stop would send the land signal on top, and Concourse would turn
// the retiring worker into a landing one. The drop-in is removed afterwards
// (another reload), so the installed unit is exactly as before.
func (m *Manager) Retire(ctx context.Context, name string) (err error) {
	if err := checkUnitName("unit name", name); err != nil {
		return err
	}
	st, err := m.state(ctx, "retire", name)
	if err != nil {
		return err
	}
	if !st.running() {
		return nil // nothing to drain, and no reloads for nothing
	}
	dropIn := filepath.Join(m.UnitPath(name)+".d", retireDropInName)
	if err := os.MkdirAll(filepath.Dir(dropIn), 0o755); err != nil {
		return fmt.Errorf("services: create %s: %w", filepath.Dir(dropIn), err)
	}
	if err := fsutil.WriteFile(dropIn, retireDropIn(), unitFileMode); err != nil {
		return err
	}
	defer func() {
		// Undo even when the stop failed or ctx ended: never leave a
		// worker that retires on its next ordinary stop.
		undoCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if _, rmErr := fsutil.RemoveAllIfExists(dropIn); rmErr != nil {
			err = errors.Join(err, rmErr)
			return
		}
		err = errors.Join(err, m.daemonReload(undoCtx))
	}()
	if err := m.daemonReload(ctx); err != nil {
		return err
	}
	return m.stop(ctx, "retire", name)
}
