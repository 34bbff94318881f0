// Package concourse is what Concourse itself needs from the charm: the
// cluster's keys in the forms Concourse reads, typed web and worker settings
// rendered to CONCOURSE_* environments, the ports a unit listens on, the
// flag list of `concourse web` and `concourse worker` with a checker that
// refuses what Concourse would refuse, and a small client for Concourse's
// HTTP API (info, workers, prune).
//
// It knows nothing of Juju, systemd or the shared volume's layout beyond the
// directory it is handed; it imports only the charm's internal helpers.
// Errors say what happened (typed, with fields); advice is the charm's.
package concourse
