package relation

import (
	"context"
	"fmt"
	"strings"
)

// Juju is the hook tools the charm uses, one method per tool. Exec runs the
// real tools; relation/jujutest answers from an in-memory model that keeps
// Juju's rules. Reads of relation data see what Juju has committed plus this
// hook's own writes; writes are committed only when the hook succeeds.
type Juju interface {
	// IsLeader is is-leader: leadership can move between hooks and even
	// during one; it holds for about 30 s after it says true.
	IsLeader(ctx context.Context) (bool, error)
	// RelationIDs lists the ids of the relations named name ("peers:0").
	RelationIDs(ctx context.Context, name string) ([]string, error)
	// RelationList lists the OTHER units in relation id that this unit has
	// seen join; it never lists the unit itself.
	RelationList(ctx context.Context, id string) ([]string, error)
	// RelationRemoteApp names the application on the other side of
	// relation id (relation-list --app); for a peer relation, the unit's
	// own. It answers also while no remote unit has joined, as for a
	// provider whose units the charm never sees.
	RelationRemoteApp(ctx context.Context, id string) (string, error)
	// RelationGet reads a unit's bag, or with app the application bag of
	// the application named who.
	RelationGet(ctx context.Context, id, who string, app bool) (map[string]string, error)
	// RelationSet writes this unit's bag, or with app its application's
	// bag (leader only). An empty value deletes the key.
	RelationSet(ctx context.Context, id string, app bool, data map[string]string) error
	ConfigGet(ctx context.Context) (map[string]any, error)
	ActionGet(ctx context.Context) (map[string]any, error)
	// ActionSet sets results; keys are lower-case letters, digits and "-",
	// dots nest (see CheckActionKey).
	ActionSet(ctx context.Context, results map[string]string) error
	ActionFail(ctx context.Context, message string) error
	ActionLog(ctx context.Context, message string) error
	StatusSet(ctx context.Context, s Status) error
	ApplicationVersionSet(ctx context.Context, v string) error
	Log(ctx context.Context, level LogLevel, message string) error
	// StorageGet reads an attribute ("location") of a storage instance.
	StorageGet(ctx context.Context, id, attribute string) (string, error)
	// StorageList lists the storage instance ids of the store named name.
	StorageList(ctx context.Context, name string) ([]string, error)
	// ResourceGet fetches a charm resource and returns its local path.
	ResourceGet(ctx context.Context, name string) (string, error)
	// OpenPort opens a port ("tcp" or "udp") on the unit's machine when
	// the hook succeeds.
	OpenPort(ctx context.Context, port int, protocol string) error
	// ClosePort closes a port the unit opened, when the hook succeeds;
	// closing one that is not open changes nothing (Juju treats it as a
	// no-op, juju/juju#474).
	ClosePort(ctx context.Context, port int, protocol string) error
	// OpenedPorts is opened-ports: the unit's ports as Juju has
	// committed them. Juju applies open-port and close-port only when the
	// hook exits 0 (a failed hook's are dropped). Whether this hook's own
	// requests are listed too, Juju's documentation (no) and its code
	// (merged in) disagree: ask before asking for any change.
	OpenedPorts(ctx context.Context) ([]Port, error)
	NetworkGet(ctx context.Context, binding string) (Network, error)
	// SecretGet reads a secret this unit consumes. Juju answers the
	// revision the unit tracks (the first read tracks the latest) unless
	// refresh is set: then it answers the latest revision and tracks it
	// from now on. A unit that tracks an old revision gets secret-changed
	// when the owner publishes a new one.
	SecretGet(ctx context.Context, uri string, refresh bool) (map[string]string, error)
}

// Status is one status-set call.
type Status struct {
	// Application sets the application's status (leader only) instead of
	// the unit's.
	Application bool
	State       StatusState
	Message     string
}

// StatusState is a workload status Juju knows.
type StatusState string

// The states a charm may set.
const (
	Active      StatusState = "active"
	Maintenance StatusState = "maintenance"
	Waiting     StatusState = "waiting"
	Blocked     StatusState = "blocked"
)

// MaxStatusLen is where `juju status` cuts a message in its table.
const MaxStatusLen = 120

func (s Status) String() string { return string(s.State) + ": " + s.Message }

// LogLevel is a juju-log level.
type LogLevel string

// juju-log levels.
const (
	LogDebug   LogLevel = "DEBUG"
	LogInfo    LogLevel = "INFO"
	LogWarning LogLevel = "WARNING"
	LogError   LogLevel = "ERROR"
)

// Network is what network-get says about a binding.
type Network struct {
	BindAddresses    []BindAddress `json:"bind-addresses"`
	IngressAddresses []string      `json:"ingress-addresses"`
	EgressSubnets    []string      `json:"egress-subnets"`
}

// BindAddress is one interface of a binding.
type BindAddress struct {
	InterfaceName string `json:"interface-name"`
	Addresses     []struct {
		Value string `json:"value"`
		CIDR  string `json:"cidr"`
	} `json:"addresses"`
}

// IngressAddress is the first ingress address, the one other units reach.
func (n Network) IngressAddress() string {
	if len(n.IngressAddresses) > 0 {
		return n.IngressAddresses[0]
	}
	for _, b := range n.BindAddresses {
		for _, a := range b.Addresses {
			return a.Value
		}
	}
	return ""
}

// ActionKeyError refuses an action-set key Juju would refuse.
type ActionKeyError struct{ Key string }

func (e *ActionKeyError) Error() string {
	return fmt.Sprintf("action result key %q: keys are lower-case letters, digits and \"-\", dot-separated parts starting and ending with a letter or digit", e.Key)
}

// CheckActionKey accepts what action-set accepts: dot-separated parts of
// lower-case letters, digits and "-", each starting and ending with a
// letter or digit.
func CheckActionKey(key string) error {
	if key == "" {
		return &ActionKeyError{Key: key}
	}
	for _, part := range strings.Split(key, ".") {
		if part == "" || part[0] == '-' || part[len(part)-1] == '-' {
			return &ActionKeyError{Key: key}
		}
		for _, r := range part {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return &ActionKeyError{Key: key}
			}
		}
	}
	return nil
}
