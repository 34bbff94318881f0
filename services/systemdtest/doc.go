// Package systemdtest starts a private, throw-away `systemd --user` with its
// own dbus-daemon, so tests (and the demo) drive a REAL systemd on a machine
// where systemd is not PID 1 and nothing was started beforehand.
//
// Each Instance gets fresh XDG_RUNTIME_DIR and XDG_CONFIG_HOME directories,
// so several test binaries running in parallel under `go test ./...` never
// share units or sockets. The only machine-wide thing the recipe needs is the
// directory /run/systemd/system (systemd --user refuses to start without it);
// runsystemd.go creates it when missing and removes it only when this package
// created it and no other live instance still uses it.
package systemdtest
