package relation

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
)

// Exec is the production Juju: it runs the hook tools Juju puts on PATH,
// with Juju's argv forms, and reads their JSON output.
type Exec struct {
	// Path, when set, is searched for the tools instead of PATH.
	Path string
	// Env is added to the tools' environment (a local model of Juju
	// tells its tools where it listens this way).
	Env []string
}

// ToolError is a hook tool that failed: its argv, exit status and what it
// printed on stderr.
type ToolError struct {
	Argv     []string
	ExitCode int
	Stderr   string
	Err      error
}

func (e *ToolError) Error() string {
	msg := fmt.Sprintf("%s: %v", strings.Join(e.Argv, " "), e.Err)
	if s := strings.TrimSpace(e.Stderr); s != "" {
		msg += ": " + s
	}
	return msg
}

func (e *ToolError) Unwrap() error { return e.Err }

func (x Exec) run(ctx context.Context, stdin []byte, argv ...string) ([]byte, error) {
	bin := argv[0]
	if x.Path != "" {
		bin = x.Path + "/" + argv[0]
	}
	cmd := exec.CommandContext(ctx, bin, argv[1:]...)
	if len(x.Env) > 0 {
		cmd.Env = append(os.Environ(), x.Env...)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	if err := cmd.Run(); err != nil {
		te := &ToolError{Argv: argv, ExitCode: -1, Stderr: stderr.String(), Err: err}
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			te.ExitCode = exit.ExitCode()
		}
		return nil, te
	}
	return stdout.Bytes(), nil
}

// runJSON runs a tool whose --format=json output decodes into out. Numbers
// stay json.Number, so an int option is not turned into a float.
func (x Exec) runJSON(ctx context.Context, out any, argv ...string) error {
	data, err := x.run(ctx, nil, argv...)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return &ToolError{Argv: argv, Err: fmt.Errorf("unreadable output %q: %w", truncate(string(data), 200), err)}
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// IsLeader runs `is-leader --format=json`.
func (x Exec) IsLeader(ctx context.Context) (bool, error) {
	var leader bool
	err := x.runJSON(ctx, &leader, "is-leader", "--format=json")
	return leader, err
}

// RelationIDs runs `relation-ids --format=json NAME`.
func (x Exec) RelationIDs(ctx context.Context, name string) ([]string, error) {
	var ids []string
	err := x.runJSON(ctx, &ids, "relation-ids", "--format=json", name)
	return ids, err
}

// RelationList runs `relation-list --format=json -r ID`.
func (x Exec) RelationList(ctx context.Context, id string) ([]string, error) {
	var units []string
	err := x.runJSON(ctx, &units, "relation-list", "--format=json", "-r", id)
	slices.Sort(units)
	return units, err
}

// RelationRemoteApp runs `relation-list --format=json -r ID --app`.
func (x Exec) RelationRemoteApp(ctx context.Context, id string) (string, error) {
	var app string
	err := x.runJSON(ctx, &app, "relation-list", "--format=json", "-r", id, "--app")
	return app, err
}

// RelationGet runs `relation-get --format=json -r ID [--app] - WHO`.
func (x Exec) RelationGet(ctx context.Context, id, who string, app bool) (map[string]string, error) {
	argv := []string{"relation-get", "--format=json", "-r", id}
	if app {
		argv = append(argv, "--app")
	}
	argv = append(argv, "-", who)
	var bag map[string]string
	if err := x.runJSON(ctx, &bag, argv...); err != nil {
		return nil, err
	}
	if bag == nil {
		bag = map[string]string{}
	}
	return bag, nil
}

// RelationSet runs `relation-set -r ID [--app] --file -` with the data as a
// YAML mapping on stdin (written as JSON, which YAML reads): values of any
// content pass unquoted by a shell and unsplit by "=".
func (x Exec) RelationSet(ctx context.Context, id string, app bool, data map[string]string) error {
	argv := []string{"relation-set", "-r", id}
	if app {
		argv = append(argv, "--app")
	}
	argv = append(argv, "--file", "-")
	doc, err := json.Marshal(data)
	if err != nil {
		return err
	}
	_, err = x.run(ctx, doc, argv...)
	return err
}

// ConfigGet runs `config-get --all --format=json`.
func (x Exec) ConfigGet(ctx context.Context) (map[string]any, error) {
	var cfg map[string]any
	err := x.runJSON(ctx, &cfg, "config-get", "--all", "--format=json")
	return cfg, err
}

// ActionGet runs `action-get --format=json`.
func (x Exec) ActionGet(ctx context.Context) (map[string]any, error) {
	var params map[string]any
	err := x.runJSON(ctx, &params, "action-get", "--format=json")
	if params == nil {
		params = map[string]any{}
	}
	return params, err
}

// ActionSet runs `action-set k=v ...`, keys sorted.
func (x Exec) ActionSet(ctx context.Context, results map[string]string) error {
	argv := []string{"action-set"}
	keys := make([]string, 0, len(results))
	for k := range results {
		if err := CheckActionKey(k); err != nil {
			return err
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		argv = append(argv, k+"="+results[k])
	}
	_, err := x.run(ctx, nil, argv...)
	return err
}

// ActionFail runs `action-fail MESSAGE`.
func (x Exec) ActionFail(ctx context.Context, message string) error {
	_, err := x.run(ctx, nil, "action-fail", message)
	return err
}

// ActionLog runs `action-log MESSAGE`.
func (x Exec) ActionLog(ctx context.Context, message string) error {
	_, err := x.run(ctx, nil, "action-log", message)
	return err
}

// StatusSet runs `status-set [--application] STATE MESSAGE`.
func (x Exec) StatusSet(ctx context.Context, s Status) error {
	argv := []string{"status-set"}
	if s.Application {
		argv = append(argv, "--application")
	}
	_, err := x.run(ctx, nil, append(argv, string(s.State), s.Message)...)
	return err
}

// ApplicationVersionSet runs `application-version-set VERSION`.
func (x Exec) ApplicationVersionSet(ctx context.Context, v string) error {
	_, err := x.run(ctx, nil, "application-version-set", v)
	return err
}

// Log runs `juju-log -l LEVEL MESSAGE`.
func (x Exec) Log(ctx context.Context, level LogLevel, message string) error {
	_, err := x.run(ctx, nil, "juju-log", "-l", string(level), message)
	return err
}

// StorageGet runs `storage-get -s ID ATTRIBUTE`.
func (x Exec) StorageGet(ctx context.Context, id, attribute string) (string, error) {
	out, err := x.run(ctx, nil, "storage-get", "-s", id, attribute)
	return strings.TrimSpace(string(out)), err
}

// StorageList runs `storage-list NAME --format=json`.
func (x Exec) StorageList(ctx context.Context, name string) ([]string, error) {
	var ids []string
	err := x.runJSON(ctx, &ids, "storage-list", name, "--format=json")
	return ids, err
}

// ResourceGet runs `resource-get NAME`, which prints the resource's path.
func (x Exec) ResourceGet(ctx context.Context, name string) (string, error) {
	out, err := x.run(ctx, nil, "resource-get", name)
	return strings.TrimSpace(string(out)), err
}

// OpenPort runs `open-port PORT/PROTOCOL`.
func (x Exec) OpenPort(ctx context.Context, port int, protocol string) error {
	_, err := x.run(ctx, nil, "open-port", strconv.Itoa(port)+"/"+protocol)
	return err
}

// ClosePort runs `close-port PORT/PROTOCOL`.
func (x Exec) ClosePort(ctx context.Context, port int, protocol string) error {
	_, err := x.run(ctx, nil, "close-port", strconv.Itoa(port)+"/"+protocol)
	return err
}

// OpenedPorts runs `opened-ports`, which prints one port a line; a line
// that is no port is a *ToolError around a *PortLineError.
func (x Exec) OpenedPorts(ctx context.Context) ([]Port, error) {
	argv := []string{"opened-ports"}
	out, err := x.run(ctx, nil, argv...)
	if err != nil {
		return nil, err
	}
	ports, err := parseOpenedPorts(string(out))
	if err != nil {
		return nil, &ToolError{Argv: argv, Err: err}
	}
	return ports, nil
}

// NetworkGet runs `network-get BINDING --format=json`.
func (x Exec) NetworkGet(ctx context.Context, binding string) (Network, error) {
	var n Network
	err := x.runJSON(ctx, &n, "network-get", binding, "--format=json")
	return n, err
}

// SecretGet runs `secret-get URI [--refresh] --format=json`. The charm
// refreshes on every read (see DecodePostgres): the newest credentials.
func (x Exec) SecretGet(ctx context.Context, uri string, refresh bool) (map[string]string, error) {
	argv := []string{"secret-get", uri}
	if refresh {
		argv = append(argv, "--refresh")
	}
	var content map[string]string
	err := x.runJSON(ctx, &content, append(argv, "--format=json")...)
	return content, err
}

var _ Juju = Exec{}
