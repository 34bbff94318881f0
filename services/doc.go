// Package services is the charm's hands on the machine: Concourse web and
// worker run as systemd units, one of each per charm unit
// (WebUnitName/WorkerUnitName), that this package renders from typed values,
// installs, enables, starts, stops, restarts, drains and retires over D-Bus
// (github.com/coreos/go-systemd/v22), on systemd's own socket.
//
// A worker stops the way Concourse expects: its unit's ExecStop= runs the
// drain helper (RunDrainHelper, a subcommand of the charm's own binary),
// which sends the land (or retire) signal, waits up to the drain timeout,
// sends SIGTERM, waits a short grace and sends SIGKILL. Stop, Restart and
// Retire return how that went (DrainResult) for the charm to act on.
//
// Every call that changes a unit waits for systemd's job result and turns
// anything but success into a typed error that says what happened (failed
// to start, with the unit's last log lines; a dependency failed; the job
// timed out; the caller cancelled). The package imports nothing of the
// charm's but internal helpers.
package services
