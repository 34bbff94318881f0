// Package storage coordinates the one volume that all units of the charm
// share: its layout, an exclusive flock with a timeout, the progress and
// version markers, recovery after a holder died, atomic writes, filesystem
// checks, per-unit worker directories, the sharing-proof token and a
// read-only inspection for operators.
//
// Every name on the volume is defined in layout.go and nowhere else.
//
// The protocol for anything that changes shared state is double-checked:
// take the lock, read the marker, do the work only if it is missing, write the
// marker last, release. A holder that dies keeps nothing locked (the kernel
// drops a flock with its last file descriptor); the next holder finds the
// progress marker it left and cleans up after it.
package storage
