// Package services is the charm's hands on the machine: Concourse web
// (concourse-server.service) and worker (concourse-worker.service) run as
// systemd units that this package renders from typed values, installs,
// starts, stops, restarts and drains over D-Bus with
// github.com/coreos/go-systemd/v22.
//
// Every call that changes a unit waits for systemd's job result and turns
// anything but success into a typed error carrying the unit's own words
// (its state, result and last log lines). The package imports nothing else
// of the charm's.
package services
