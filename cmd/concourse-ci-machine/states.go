package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

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
var docNotes fsm.Annotations

// runStates prints the state machines, derived from their tables:
// `states [--format mermaid|dot|table|markdown] [--machine upgrade|install|all]`.
func runStates(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("states", flag.ContinueOnError)
	flags.SetOutput(stderr)
	format := flags.String("format", "table", "output format: mermaid, dot, table or markdown (what docs/states.md holds)")
	machine := flags.String("machine", "all", "which machine: "+strings.Join(machineNames(), ", ")+" or all")
	if done, err := parseFlags(flags, args); done || err != nil {
		return err
	}
	if flags.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q; states takes only --format and --machine", errUsage, flags.Arg(0))
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
		return fmt.Errorf("%w: unknown --format %q; use mermaid, dot, table or markdown", errUsage, *format)
	}
	parts := make([]string, len(tables))
	for i, t := range tables {
		parts[i] = render(t)
	}
	_, err = io.WriteString(stdout, strings.Join(parts, "\n"))
	return err
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
	return nil, fmt.Errorf("%w: unknown --machine %q; use %s or all", errUsage, machine, strings.Join(machineNames(), ", "))
}
