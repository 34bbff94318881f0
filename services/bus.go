package services

import (
	"os"
	"strconv"
	"sync"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
	godbus "github.com/godbus/dbus/v5"
)

// SystemdPrivateSocket is the system manager's own D-Bus socket. It works
// without a bus daemon (early boot, minimal images), so it is the default.
const SystemdPrivateSocket = "/run/systemd/private"

// Endpoint says where systemd answers and whether a bus daemon sits in
// between (a bus daemon wants the Hello call; systemd's own socket rejects it).
type Endpoint struct {
	// Address is a D-Bus address, e.g. "unix:path=/run/systemd/private".
	Address string
	// ViaBusDaemon is true for a dbus-daemon/dbus-broker address.
	ViaBusDaemon bool
}

// PrivateSocket is systemd's own socket at path: no bus daemon involved.
func PrivateSocket(path string) Endpoint {
	return Endpoint{Address: "unix:path=" + path}
}

// BusDaemon is a D-Bus daemon's address (system or session bus).
func BusDaemon(address string) Endpoint {
	return Endpoint{Address: address, ViaBusDaemon: true}
}

// SystemManager is the production endpoint: the system manager's socket.
func SystemManager() Endpoint { return PrivateSocket(SystemdPrivateSocket) }

// dialer opens authenticated connections to an Endpoint. go-systemd calls
// it twice (one connection for calls, one for signals) and needs
// independent connections; the dialer keeps them so the signal connection
// can be subscribed.
type dialer struct {
	endpoint Endpoint
	mu       sync.Mutex
	conns    []*godbus.Conn
}

func (d *dialer) dial() (*godbus.Conn, error) {
	conn, err := godbus.Dial(d.endpoint.Address)
	if err != nil {
		return nil, err
	}
	// EXTERNAL with the numeric uid, as go-systemd does: no user lookup.
	if err := conn.Auth([]godbus.Auth{godbus.AuthExternal(strconv.Itoa(os.Getuid()))}); err != nil {
		conn.Close()
		return nil, err
	}
	if d.endpoint.ViaBusDaemon {
		if err := conn.Hello(); err != nil {
			conn.Close()
			return nil, err
		}
	}
	d.mu.Lock()
	d.conns = append(d.conns, conn)
	d.mu.Unlock()
	return conn, nil
}

// signalConn is the second connection go-systemd dialed (its signal one).
func (d *dialer) signalConn() *godbus.Conn {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.conns) < 2 {
		return nil
	}
	return d.conns[1]
}

// connect opens go-systemd's connection pair. Over a bus daemon, systemd
// only broadcasts JobRemoved (which job waits need) once some client has
// called Manager.Subscribe; on its private socket it always sends them.
func connect(e Endpoint) (*sdbus.Conn, error) {
	d := &dialer{endpoint: e}
	conn, err := sdbus.NewConnection(d.dial)
	if err != nil {
		return nil, err
	}
	if e.ViaBusDaemon {
		sig := d.signalConn()
		if err := sig.Object("org.freedesktop.systemd1", "/org/freedesktop/systemd1").
			Call("org.freedesktop.systemd1.Manager.Subscribe", 0).Store(); err != nil {
			conn.Close()
			return nil, err
		}
	}
	return conn, nil
}
