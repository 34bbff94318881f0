// Package testprog is the program the services tests run inside real
// systemd units (the test binary re-executes itself into Main). It stands in
// for `concourse web`: it can run forever, fail at once, or report how
// systemd passed its arguments and environment. Workers are played by
// internal/fakeconcourse.
package testprog

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// Usage lists the modes.
const Usage = `testprog forever
testprog fail
testprog args OUTFILE [ARG...]    # write argv and environment as JSON, then run forever`

// Report is what "args" mode writes.
type Report struct {
	Args []string          `json:"args"` // the whole argv, as systemd passed it`
	Env  map[string]string `json:"env"`
}

// Main runs one mode and returns the exit status.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, Usage)
		return 2
	}
	mode, rest := args[0], args[1:]
	switch {
	case mode == "forever" && len(rest) == 0:
		fmt.Fprintf(stdout, "testprog: running as pid %d\n", os.Getpid())
		select {}
	case mode == "fail" && len(rest) == 0:
		fmt.Fprintln(stderr, "testprog: failing on purpose with exit status 1")
		return 1
	case mode == "args" && len(rest) >= 1:
		if err := writeReport(rest[0], os.Args); err != nil {
			fmt.Fprintln(stderr, "testprog:", err)
			return 1
		}
		select {}
	}
	fmt.Fprintln(stderr, Usage)
	return 2
}

func writeReport(path string, args []string) error {
	r := Report{Args: args, Env: map[string]string{}}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		r.Env[k] = v
	}
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
