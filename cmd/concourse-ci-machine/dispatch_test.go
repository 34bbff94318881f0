package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
)

// The systemd socket variable takes a path; a D-Bus address (a bus
// daemon's) or a relative path is refused before anything runs, with what
// to give instead.
func TestDispatchRefusesABusAddressForTheSystemdSocket(t *testing.T) {
	t.Parallel()
	for _, socket := range []string{"unix:path=/run/dbus/system_bus_socket", "run/systemd/private"} {
		env := map[string]string{
			"JUJU_DISPATCH_PATH": "hooks/update-status",
			"JUJU_UNIT_NAME":     "concourse/0",
			"JUJU_MODEL_NAME":    "ci",
			EnvSystemdSocket:     socket,
			EnvStateDir:          t.TempDir(),
		}
		var stderr bytes.Buffer
		code := runDispatch(context.Background(), func(k string) string { return env[k] }, &stderr)
		assert.Equal(t, 1, code, socket)
		assert.Contains(t, stderr.String(), "give the absolute path of systemd's private socket (e.g. /run/systemd/private)", socket)
	}
}
