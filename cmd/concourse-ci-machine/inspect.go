package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/charm"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/bytesize"
	"github.com/concourse-ci-machine/concourse-ci-machine/storage"
)

func inspectCommand() command {
	return command{
		name:    "inspect",
		args:    "[--json] VOLUME",
		summary: "show the shared volume: lock holder, markers, releases, workers",
		about: `Show the shared volume at VOLUME (the charm's concourse-data storage, e.g.
/var/lib/concourse): filesystem, installed release, releases, lock holder,
in-progress marker, worker directories, volume id and problems. Nothing on
the volume is created or changed.`,
		flags: func(fs *flag.FlagSet) action {
			asJSON := fs.Bool("json", false, "print the report as JSON")
			volume := volumeFlag(fs)
			return func(_ context.Context, args []string, stdout, _ io.Writer) error {
				root, err := volume.from(args)
				if err != nil {
					return err
				}
				report, err := storage.InspectPath(root)
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
		},
	}
}

// printReport writes the compact human-readable block.
func printReport(w io.Writer, r storage.Report) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(label, format string, args ...any) {
		fmt.Fprintf(tw, "%s\t%s\n", label+":", fmt.Sprintf(format, args...))
	}
	row("Volume", "%s", r.Root)
	row("Filesystem", "%s, %s free of %s", r.FS.Type, bytesize.Format(int64(r.FS.FreeBytes)), bytesize.Format(int64(r.FS.TotalBytes)))
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
	if f := r.Fence; f != nil {
		row("Fence", "revision %d: %s (by %s at %s)", f.Revision, f.Version, f.Unit, f.At.UTC().Format(time.RFC3339))
	}
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
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", rel.Name, bytesize.Format(rel.SizeBytes), note)
		}
	})
	section(w, "Workers", len(r.Workers), func(tw *tabwriter.Writer) {
		for _, wd := range r.Workers {
			release := "no release recorded"
			if wd.Release != "" {
				release = "runs " + wd.Release
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", wd.Name, wd.Mode, release)
		}
	})
	if len(r.Problems) == 0 {
		_, err := fmt.Fprintln(w, "Problems: none")
		return err
	}
	fmt.Fprintln(w, "Problems:")
	for _, p := range r.Problems {
		fmt.Fprintf(w, "  - %s\n", p)
		if advice := charm.InspectAdvice(p, r); advice != "" {
			fmt.Fprintf(w, "    %s\n", advice)
		}
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
