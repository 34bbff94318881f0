package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/storage"
)

// runInspect prints what is on a shared volume without changing it.
func runInspect(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("inspect", flag.ContinueOnError)
	fl.SetOutput(stderr)
	asJSON := fl.Bool("json", false, "print the report as JSON")
	fl.Usage = func() {
		fmt.Fprintln(fl.Output(), "Usage: concourse-ci-machine inspect [--json] PATH")
		fmt.Fprintln(fl.Output(), "")
		fmt.Fprintln(fl.Output(), "Show the shared volume at PATH: filesystem, installed release, releases,")
		fmt.Fprintln(fl.Output(), "lock holder, in-progress marker, worker directories, volume id and problems.")
		fmt.Fprintln(fl.Output(), "Nothing on the volume is created or changed.")
		fmt.Fprintln(fl.Output(), "")
		fl.PrintDefaults()
	}
	if done, err := parseFlags(fl, args); done || err != nil {
		return err
	}
	if fl.NArg() != 1 {
		return fmt.Errorf("%w: expected exactly one PATH, got %d arguments; run 'concourse-ci-machine inspect --help'", errUsage, fl.NArg())
	}
	report, err := storage.InspectPath(fl.Arg(0))
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(report)
	}
	return printReport(stdout, report)
}

// printReport writes the compact human-readable block.
func printReport(w io.Writer, r storage.Report) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(label, format string, args ...any) {
		fmt.Fprintf(tw, "%s\t%s\n", label+":", fmt.Sprintf(format, args...))
	}
	row("Volume", "%s", r.Root)
	row("Filesystem", "%s, %s free of %s", r.FS.Type, humanBytes(r.FS.FreeBytes), humanBytes(r.FS.TotalBytes))
	if !r.Initialised {
		row("Layout", "not created yet (the first unit to open the volume creates it)")
	}
	row("Volume id", "%s", orNone(r.VolumeID))
	if iv := r.Installed; iv != nil {
		row("Installed", "%s (%s, by %s at %s)", iv.Version, iv.Checksum, iv.Unit, iv.InstalledAt.UTC().Format(time.RFC3339))
	} else {
		row("Installed", "none")
	}
	row("Current", "%s", orNone(r.Current))
	row("Lock", "%s", describeLock(r.Lock))
	row("In progress", "%s", describeProgress(r.Progress))
	if err := tw.Flush(); err != nil {
		return err
	}
	section(w, "Releases", len(r.Releases), func(tw *tabwriter.Writer) {
		for _, rel := range r.Releases {
			note := ""
			if rel.Partial {
				note = "partial"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", rel.Name, humanBytes(uint64(rel.SizeBytes)), note)
		}
	})
	section(w, "Workers", len(r.Workers), func(tw *tabwriter.Writer) {
		for _, wd := range r.Workers {
			fmt.Fprintf(tw, "  %s\t%s\n", wd.Name, wd.Mode)
		}
	})
	if len(r.Problems) == 0 {
		_, err := fmt.Fprintln(w, "Problems: none")
		return err
	}
	fmt.Fprintln(w, "Problems:")
	for _, p := range r.Problems {
		fmt.Fprintf(w, "  - %s\n", p)
	}
	return nil
}

func section(w io.Writer, title string, n int, rows func(*tabwriter.Writer)) {
	if n == 0 {
		fmt.Fprintf(w, "%s: none\n", title)
		return
	}
	fmt.Fprintf(w, "%s:\n", title)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	rows(tw)
	tw.Flush()
}

func describeLock(l storage.LockReport) string {
	switch {
	case l.State != storage.LockHeld:
		return l.State
	case l.Holder == nil:
		return "held (holder not recorded yet)"
	default:
		return fmt.Sprintf("held by %s for %s", l.Holder, time.Duration(l.HeldForSeconds)*time.Second)
	}
}

func describeProgress(p *storage.ProgressReport) string {
	if p == nil {
		return "none"
	}
	s := fmt.Sprintf("%s by %s (pid %d), started %s ago", p.Version, p.Unit, p.PID, time.Duration(p.AgeSeconds)*time.Second)
	if p.Stuck {
		s += " (STUCK)"
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// humanBytes formats n in binary units with one decimal.
func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
