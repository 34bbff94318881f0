package services

import (
	"os"
	"strconv"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
	godbus "github.com/godbus/dbus/v5"
)

// SystemdPrivateSocket is the system manager's own D-Bus socket. It works
// without a bus daemon (early boot, minimal images), so it is the one used.
const SystemdPrivateSocket = "/run/systemd/private"

// Endpoint says where systemd answers: its own socket, spoken to without a
// bus daemon (no Hello; systemd sends job signals without Subscribe).
type Endpoint struct {
	// Address is a D-Bus address, e.g. "unix:path=/run/systemd/private".
	Address string
}

// PrivateSocket is systemd's own socket at path.
func PrivateSocket(path string) Endpoint {
	return Endpoint{Address: "unix:path=" + path}
}

// SystemManager is the production endpoint: the system manager's socket.
func SystemManager() Endpoint { return PrivateSocket(SystemdPrivateSocket) }

// dial opens an authenticated connection: EXTERNAL with the numeric uid, as
// go-systemd does, so no user lookup is needed.
func (e Endpoint) dial() (*godbus.Conn, error) {
	conn, err := godbus.Dial(e.Address)
	if err != nil {
		return nil, err
	}
	if err := conn.Auth([]godbus.Auth{godbus.AuthExternal(strconv.Itoa(os.Getuid()))}); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// connect opens go-systemd's connection pair (it dials twice: calls and
// signals, independent connections).
func connect(e Endpoint) (*sdbus.Conn, error) {
	return sdbus.NewConnection(e.dial)
}
