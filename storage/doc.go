// Package storage holds the mechanisms of the one volume that all units of
// the charm share: its layout, an exclusive flock with short jittered polls,
// the progress and version markers, recovery after a holder died, release
// fetch (timeouts, retries, checksums), safe extraction, verification and
// the durable commit of releases/<version>, the fenced switch of `current`,
// the registry of the release each unit's services run, pruning, per-unit
// worker directories, the sharing-proof token and a read-only inspection.
// It imports nothing of the charm's but internal/...: the install machine
// that drives these mechanisms is package installer's.
//
// Every name on the volume is defined in layout.go and nowhere else, and
// every error kind in errors.go.
//
// The protocol for anything that changes shared state is double-checked:
// take the lock, read the marker, do the work only if it is missing, write the
// marker last, release. A holder that dies keeps nothing locked (the kernel
// drops a flock with its last file descriptor); the next holder finds the
// progress marker it left and cleans up after it.
package storage
