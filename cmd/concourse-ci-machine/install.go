package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/concourse-ci-machine/concourse-ci-machine/fsm"
	"github.com/concourse-ci-machine/concourse-ci-machine/installer"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/bytesize"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/version"
	"github.com/concourse-ci-machine/concourse-ci-machine/storage"
)

func installCommand() command {
	return command{
		name:    "install",
		args:    "--version V [--url URL | --file PATH | --base-url URL] [--sha256 HEX] [--space-needed SIZE] [--stage-only | --revision N] [flags] VOLUME",
		summary: "install a Concourse release on the shared volume, once per cluster",
		about: `Install Concourse V on the shared volume at VOLUME as the charm does: under
the volume's lock, downloading it only when no unit has yet, verified against
its .sha1 sidecar (and --sha256 when given), then switch current to it. Each
transition of the install machine and each status line is printed.`,
		flags: installFlags,
	}
}

// installFlags declares install's flags and returns what runs the install
// machine from a shell, printing each transition and the status lines the
// charm would show.
func installFlags(fs *flag.FlagSet) action {
	volume := volumeFlag(fs)
	rawVersion := fs.String("version", "", "the Concourse version to install, e.g. 7.14.3 (required)")
	rawURL := fs.String("url", "", "the tarball's http(s):// or file:// URL (default: the GitHub release)")
	file := fs.String("file", "", "a local tarball, e.g. a Juju resource (air-gapped installs)")
	baseURL := fs.String("base-url", "", "a release mirror laid out like "+storage.DefaultReleaseBaseURL)
	pin := fs.String("sha256", "", "the tarball's SHA-256, checked as well as the .sha1 sidecar (the charm's release-sha256)")
	unit := fs.String("unit", os.Getenv("JUJU_UNIT_NAME"), "the unit name recorded in the lock and markers")
	stageOnly := fs.Bool("stage-only", false, "stage the release under releases/<version> without switching current")
	revision := fs.Uint64("revision", 0, "the revision current is switched at (the upgrade's generation); a lower one than the volume's fence is refused")
	space := fs.String("space-needed", "", "the space the unpacked release needs, e.g. 800M (default: estimated)")
	return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		root, err := volume.from(args)
		if err != nil {
			return err
		}
		switch {
		case *rawVersion == "":
			return usagef("--version is required")
		case *rawURL != "" && *file != "":
			return usagef("give --url or --file, not both")
		case *baseURL != "" && (*rawURL != "" || *file != ""):
			return usagef("--base-url does not combine with --url or --file")
		case *stageOnly && *revision != 0:
			return usagef("--revision is where current is switched; --stage-only switches nothing")
		}
		v, err := version.Parse(*rawVersion)
		if err != nil {
			return usagef("--version: %v", err)
		}
		var spaceNeeded int64
		if *space != "" {
			if spaceNeeded, err = bytesize.Parse(*space); err != nil {
				return usagef("--space-needed: %v", err)
			}
		}

		vol, err := storage.OpenVolume(root)
		if err != nil {
			return err
		}
		in := installer.New(vol, installer.Options{
			Unit: *unit,
			FetchSpec: storage.FetchSpec{
				Source:      storage.Source{URL: *rawURL, File: *file},
				BaseURL:     *baseURL,
				SHA256:      *pin,
				SpaceNeeded: spaceNeeded,
			},
			Revision: *revision,
			OnStep:   func(s fsm.InstallStep) { fmt.Fprintf(stdout, "install: %s\n", s) },
			OnStatus: func(msg string) { fmt.Fprintf(stdout, "status: %s\n", msg) },
			Logf:     func(format string, a ...any) { fmt.Fprintf(stderr, "install: "+format+"\n", a...) },
		})
		run := in.Install
		if *stageOnly {
			run = in.Stage
		}
		res, err := run(ctx, v)
		if err != nil {
			return err
		}
		how := "found in place"
		if res.Downloaded {
			how = "downloaded and verified"
		}
		fmt.Fprintf(stdout, "install: Concourse %s %s at %s (%s)\n", res.Version, how, res.Dir, res.Checksum)
		if len(res.Pruned) > 0 {
			fmt.Fprintf(stdout, "install: pruned %v\n", res.Pruned)
		}
		return nil
	}
}
