package jujutest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/concourse-ci-machine/concourse-ci-machine/relation"
)

// The environment a dispatch process gets, besides Juju's own variables,
// so that its hook tools (jujuc) reach this model, as Juju's jujuc reaches
// the unit agent.
const (
	EnvSocket  = "JUJU_AGENT_SOCKET_ADDRESS"
	EnvContext = "JUJU_CONTEXT_ID"
)

// Tools are the hook tools the server answers.
func Tools() []string {
	return []string{"is-leader", "relation-ids", "relation-list", "relation-get", "relation-set", "config-get",
		"action-get", "action-set", "action-fail", "action-log", "status-set", "application-version-set", "juju-log",
		"storage-get", "storage-list", "resource-get", "open-port", "close-port", "opened-ports", "network-get", "secret-get"}
}

// Request is one tool call from a dispatch process.
type Request struct {
	Context string   `json:"context"`
	Argv    []string `json:"argv"`
	Stdin   []byte   `json:"stdin"`
}

// Response is what the tool prints and its exit status.
type Response struct {
	Stdout []byte `json:"stdout"`
	Stderr []byte `json:"stderr"`
	Code   int    `json:"code"`
}

// Server answers hook tools over a unix socket for the hooks it runs as
// processes.
type Server struct {
	Socket   string
	ToolsDir string
	ln       net.Listener
	mu       sync.Mutex
	hooks    map[string]relation.Juju
	calls    []Call
	fail     map[string]int
	hooksRun uint64 // numbers the hooks ProcessDispatcher runs
	wg       sync.WaitGroup
}

// Call is one tool call a hook made.
type Call struct {
	// Context is the hook's id: "<unit slug>-<n>".
	Context string
	Argv    []string
}

// Serve listens on dir/agent.sock and links every tool name to jujuc (a
// program that runs jujuc.Main) in dir/tools.
func Serve(dir, jujuc string) (*Server, error) {
	s := &Server{Socket: filepath.Join(dir, "agent.sock"), ToolsDir: filepath.Join(dir, "tools"), hooks: map[string]relation.Juju{}, fail: map[string]int{}}
	if err := os.MkdirAll(s.ToolsDir, 0o755); err != nil {
		return nil, err
	}
	for _, tool := range Tools() {
		if err := os.Symlink(jujuc, filepath.Join(s.ToolsDir, tool)); err != nil && !errors.Is(err, os.ErrExist) {
			return nil, err
		}
	}
	ln, err := net.Listen("unix", s.Socket)
	if err != nil {
		return nil, err
	}
	s.ln = ln
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Close stops listening and waits for calls in progress.
func (s *Server) Close() error {
	err := s.ln.Close()
	s.wg.Wait()
	return err
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer conn.Close()
			var req Request
			if err := json.NewDecoder(conn).Decode(&req); err != nil {
				return
			}
			_ = json.NewEncoder(conn).Encode(s.answer(req))
		}()
	}
}

// Calls are the tool calls answered so far, in order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// FailNext makes the next n calls of tool fail, as a tool whose agent
// connection broke would.
func (s *Server) FailNext(tool string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail[tool] += n
}

func (s *Server) answer(req Request) Response {
	s.mu.Lock()
	j := s.hooks[req.Context]
	s.calls = append(s.calls, Call{Context: req.Context, Argv: slices.Clone(req.Argv)})
	tool := ""
	if len(req.Argv) > 0 {
		tool = filepath.Base(req.Argv[0])
	}
	failing := s.fail[tool] > 0
	if failing {
		s.fail[tool]--
	}
	s.mu.Unlock()
	if j == nil {
		return Response{Stderr: []byte(fmt.Sprintf("ERROR no hook context %q is running\n", req.Context)), Code: 1}
	}
	if failing {
		return Response{Stderr: []byte("ERROR connection to the unit agent lost\n"), Code: 1}
	}
	out, err := call(context.Background(), j, req.Argv, req.Stdin)
	var refused *relation.ToolError
	var usage *usageError
	switch {
	case errors.As(err, &refused):
		// What the model refused, printed as Juju's tool prints it.
		return Response{Stderr: []byte(refused.Stderr + "\n"), Code: refused.ExitCode}
	case errors.As(err, &usage):
		return Response{Stderr: []byte("ERROR " + err.Error() + "\n"), Code: 2}
	case err != nil:
		return Response{Stderr: []byte("ERROR " + err.Error() + "\n"), Code: 1}
	}
	return Response{Stdout: out}
}

// Register makes the tools answer for j under context id until the returned
// function is called (ProcessDispatcher does this for every hook).
func (s *Server) Register(id string, j relation.Juju) (unregister func()) {
	s.mu.Lock()
	s.hooks[id] = j
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		delete(s.hooks, id)
		s.mu.Unlock()
	}
}

// ProcessDispatcher runs each hook as a real process: binary with Juju's
// environment for the hook, env on top, and the tools on PATH answering
// for this hook. A non-zero exit fails the hook; its output goes to logf.
func (s *Server) ProcessDispatcher(binary string, env []string, logf func(unit, line string)) Dispatcher {
	return func(ctx context.Context, hc relation.Context, j relation.Juju) error {
		id := hc.Unit.Slug() + "-" + strconv.FormatUint(s.nextID(), 10)
		defer s.Register(id, j)()
		cmd := exec.CommandContext(ctx, binary)
		cmd.Env = append(append(append(withoutPath(os.Environ()), "PATH="+s.ToolsDir+":"+os.Getenv("PATH")), env...), hc.Env()...)
		cmd.Env = append(cmd.Env, EnvSocket+"="+s.Socket, EnvContext+"="+id)
		cmd.Dir = hc.CharmDir
		if _, err := os.Stat(cmd.Dir); err != nil {
			cmd.Dir = ""
		}
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		if logf != nil {
			for _, line := range strings.Split(strings.TrimRight(out.String(), "\n"), "\n") {
				if line != "" {
					logf(hc.Unit.String(), line)
				}
			}
		}
		if err != nil {
			return fmt.Errorf("dispatch %s: %w: %s", hc.DispatchPath, err, lastLine(out.String()))
		}
		return nil
	}
}

func (s *Server) nextID() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hooksRun++
	return s.hooksRun
}

func withoutPath(env []string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		return strings.HasPrefix(kv, "PATH=") || strings.HasPrefix(kv, "JUJU_")
	})
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// usageError is an argv the tool does not accept (exit status 2, as the
// real tools).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usage(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// call parses a tool's argv the way Juju's tools do and answers it from j.
func call(ctx context.Context, j relation.Juju, argv []string, stdin []byte) ([]byte, error) {
	if len(argv) == 0 {
		return nil, usage("no tool named")
	}
	tool, args := filepath.Base(argv[0]), argv[1:]
	f := parseFlags(args)
	switch tool {
	case "is-leader":
		if err := f.only("--format=json"); err != nil {
			return nil, err
		}
		leader, err := j.IsLeader(ctx)
		return jsonOut(leader, err)
	case "relation-ids":
		if err := f.only("--format=json"); err != nil {
			return nil, err
		}
		if len(f.pos) != 1 {
			return nil, usage("relation-ids takes one relation name")
		}
		ids, err := j.RelationIDs(ctx, f.pos[0])
		return jsonOut(ids, err)
	case "relation-list":
		if err := f.only("--format=json", "-r", "--app"); err != nil {
			return nil, err
		}
		if f.has["--app"] {
			app, err := j.RelationRemoteApp(ctx, f.value["-r"])
			return jsonOut(app, err)
		}
		units, err := j.RelationList(ctx, f.value["-r"])
		return jsonOut(units, err)
	case "relation-get":
		if err := f.only("--format=json", "-r", "--app"); err != nil {
			return nil, err
		}
		if len(f.pos) != 2 || f.pos[0] != "-" {
			return nil, usage("relation-get takes - and a unit or application")
		}
		bag, err := j.RelationGet(ctx, f.value["-r"], f.pos[1], f.has["--app"])
		return jsonOut(bag, err)
	case "relation-set":
		if err := f.only("-r", "--app", "--file"); err != nil {
			return nil, err
		}
		data := map[string]string{}
		if f.value["--file"] == "-" {
			if err := json.Unmarshal(stdin, &data); err != nil {
				return nil, usage("relation-set --file -: stdin is not a mapping of strings: %v", err)
			}
		}
		for _, kv := range f.pos {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return nil, usage("relation-set: %q is not key=value", kv)
			}
			data[k] = v
		}
		return nil, j.RelationSet(ctx, f.value["-r"], f.has["--app"], data)
	case "config-get":
		if err := f.only("--all", "--format=json"); err != nil {
			return nil, err
		}
		cfg, err := j.ConfigGet(ctx)
		return jsonOut(cfg, err)
	case "action-get":
		if err := f.only("--format=json"); err != nil {
			return nil, err
		}
		params, err := j.ActionGet(ctx)
		return jsonOut(params, err)
	case "action-set":
		results := map[string]string{}
		for _, kv := range f.pos {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return nil, usage("action-set: %q is not key=value", kv)
			}
			results[k] = v
		}
		return nil, j.ActionSet(ctx, results)
	case "action-fail":
		return nil, j.ActionFail(ctx, strings.Join(f.pos, " "))
	case "action-log":
		return nil, j.ActionLog(ctx, strings.Join(f.pos, " "))
	case "status-set":
		if err := f.only("--application"); err != nil {
			return nil, err
		}
		if len(f.pos) < 1 || len(f.pos) > 2 {
			return nil, usage("status-set takes a state and a message")
		}
		msg := ""
		if len(f.pos) == 2 {
			msg = f.pos[1]
		}
		return nil, j.StatusSet(ctx, relation.Status{Application: f.has["--application"], State: relation.StatusState(f.pos[0]), Message: msg})
	case "application-version-set":
		if len(f.pos) != 1 {
			return nil, usage("application-version-set takes one version")
		}
		return nil, j.ApplicationVersionSet(ctx, f.pos[0])
	case "juju-log":
		if err := f.only("-l"); err != nil {
			return nil, err
		}
		level := f.value["-l"]
		if level == "" {
			level = "INFO"
		}
		return nil, j.Log(ctx, relation.LogLevel(level), strings.Join(f.pos, " "))
	case "storage-get":
		if err := f.only("-s"); err != nil {
			return nil, err
		}
		if len(f.pos) != 1 {
			return nil, usage("storage-get takes one attribute")
		}
		v, err := j.StorageGet(ctx, f.value["-s"], f.pos[0])
		return []byte(v + "\n"), err
	case "storage-list":
		if err := f.only("--format=json"); err != nil {
			return nil, err
		}
		if len(f.pos) != 1 {
			return nil, usage("storage-list takes one storage name")
		}
		ids, err := j.StorageList(ctx, f.pos[0])
		return jsonOut(ids, err)
	case "resource-get":
		if len(f.pos) != 1 {
			return nil, usage("resource-get takes one resource name")
		}
		path, err := j.ResourceGet(ctx, f.pos[0])
		return []byte(path + "\n"), err
	case "open-port", "close-port":
		if len(f.pos) != 1 {
			return nil, usage("%s takes PORT/PROTOCOL", tool)
		}
		port, proto, _ := strings.Cut(f.pos[0], "/")
		n, err := strconv.Atoi(port)
		if err != nil {
			return nil, usage("%s: %q is not a port", tool, f.pos[0])
		}
		if proto == "" {
			proto = "tcp"
		}
		if tool == "close-port" {
			return nil, j.ClosePort(ctx, n, proto)
		}
		return nil, j.OpenPort(ctx, n, proto)
	case "opened-ports":
		if err := f.only(); err != nil {
			return nil, err
		}
		ports, err := j.OpenedPorts(ctx)
		if err != nil {
			return nil, err
		}
		var out []byte
		for _, p := range ports {
			out = append(out, p.String()+"\n"...)
		}
		return out, nil
	case "network-get":
		if err := f.only("--format=json"); err != nil {
			return nil, err
		}
		if len(f.pos) != 1 {
			return nil, usage("network-get takes one binding")
		}
		n, err := j.NetworkGet(ctx, f.pos[0])
		return jsonOut(n, err)
	case "secret-get":
		if err := f.only("--format=json", "--refresh"); err != nil {
			return nil, err
		}
		if len(f.pos) != 1 {
			return nil, usage("secret-get takes one secret URI")
		}
		content, err := j.SecretGet(ctx, f.pos[0], f.has["--refresh"])
		return jsonOut(content, err)
	}
	return nil, usage("unknown tool %q", tool)
}

func jsonOut(v any, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	out, err := json.Marshal(v)
	return append(out, '\n'), err
}

// flags is a tool's argv split into flags and positional arguments.
type flags struct {
	has   map[string]bool
	value map[string]string
	pos   []string
}

// valued are the flags that take the next argument.
var valued = []string{"-r", "-s", "-l", "--file"}

func parseFlags(args []string) flags {
	f := flags{has: map[string]bool{}, value: map[string]string{}}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case slices.Contains(valued, a) && i+1 < len(args):
			f.has[a], f.value[a] = true, args[i+1]
			i++
		case strings.HasPrefix(a, "-") && a != "-":
			f.has[a] = true
		default:
			f.pos = append(f.pos, a)
		}
	}
	return f
}

// only refuses flags the tool does not take.
func (f flags) only(allowed ...string) error {
	for flag := range f.has {
		if !slices.Contains(allowed, flag) {
			return usage("flag provided but not defined: %s", flag)
		}
	}
	return nil
}
