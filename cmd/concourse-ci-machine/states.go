package main

import (
	"context"
	"flag"
	"io"
	"strings"

	"github.com/concourse-ci-machine/concourse-ci-machine/charm"
	"github.com/concourse-ci-machine/concourse-ci-machine/fsm"
)

// stateFormats maps --format values to the renderer of one machine; markdown
// renders all selected machines as one document.
func stateFormats() map[string]func(fsm.Table) string {
	return map[string]func(fsm.Table) string{
		"mermaid": fsm.Mermaid,
		"dot":     fsm.Dot,
		"table":   func(t fsm.Table) string { return fsm.TextTable(t, docNotes) },
	}
}

// docNotes is what the charm adds to the tables: hooks and status lines.
var docNotes fsm.Annotations = charm.Annotations{}

func statesCommand() command {
	return command{
		name:    "states",
		args:    "[--format mermaid|dot|table|markdown] [--machine " + strings.Join(machineNames(), "|") + "|all]",
		summary: "print the upgrade and install state machines",
		about: `Print the state machines, derived from their tables in package fsm: every
state, event and transition, and what to do when a unit is stuck. The
markdown format is docs/states.md (make docs).`,
		flags: statesFlags,
	}
}

func statesFlags(fs *flag.FlagSet) action {
	format := fs.String("format", "table", "output format: mermaid, dot, table or markdown (what docs/states.md holds)")
	machine := fs.String("machine", "all", "which machine: "+strings.Join(machineNames(), ", ")+" or all")
	return func(_ context.Context, args []string, stdout, _ io.Writer) error {
		if len(args) > 0 {
			return usagef("unexpected argument %q; states takes only --format and --machine", args[0])
		}
		tables, err := selectTables(*machine)
		if err != nil {
			return err
		}
		if *format == "markdown" {
			_, err := io.WriteString(stdout, fsm.Markdown(tables, docNotes))
			return err
		}
		render, ok := stateFormats()[*format]
		if !ok {
			return usagef("unknown --format %q; use mermaid, dot, table or markdown", *format)
		}
		parts := make([]string, len(tables))
		for i, t := range tables {
			parts[i] = render(t)
		}
		_, err = io.WriteString(stdout, strings.Join(parts, "\n"))
		return err
	}
}

func machineNames() []string {
	var names []string
	for _, t := range fsm.Tables() {
		names = append(names, t.Machine)
	}
	return names
}

func selectTables(machine string) ([]fsm.Table, error) {
	if machine == "all" {
		return fsm.Tables(), nil
	}
	for _, t := range fsm.Tables() {
		if t.Machine == machine {
			return []fsm.Table{t}, nil
		}
	}
	return nil, usagef("unknown --machine %q; use %s or all", machine, strings.Join(machineNames(), ", "))
}
