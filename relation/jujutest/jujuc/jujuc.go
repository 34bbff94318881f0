// Package jujuc is the client side of jujutest's hook tools: a program
// linked with it and named like a tool (is-leader, relation-get, ...) sends
// its argv and stdin to the model over the socket in its environment and
// prints the answer, as Juju's jujuc does for the unit agent.
package jujuc

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/relation/jujutest"
)

// Main runs one tool call; it returns the exit status.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	socket, id := getenv(jujutest.EnvSocket), getenv(jujutest.EnvContext)
	if socket == "" || id == "" {
		fmt.Fprintf(stderr, "ERROR %s and %s must be set: this tool only runs inside a hook\n", jujutest.EnvSocket, jujutest.EnvContext)
		return 1
	}
	var in []byte
	if f, ok := stdin.(*os.File); !ok || !isTerminal(f) {
		in, _ = io.ReadAll(stdin)
	}
	conn, err := net.DialTimeout("unix", socket, 10*time.Second)
	if err != nil {
		fmt.Fprintf(stderr, "ERROR cannot reach the agent: %v\n", err)
		return 1
	}
	defer conn.Close()
	if err := json.NewEncoder(conn).Encode(jujutest.Request{Context: id, Argv: args, Stdin: in}); err != nil {
		fmt.Fprintf(stderr, "ERROR %v\n", err)
		return 1
	}
	var resp jujutest.Response
	if err := json.NewDecoder(conn).Decode(&resp); err != nil {
		fmt.Fprintf(stderr, "ERROR no answer from the agent: %v\n", err)
		return 1
	}
	_, _ = stdout.Write(resp.Stdout)
	_, _ = stderr.Write(resp.Stderr)
	return resp.Code
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
