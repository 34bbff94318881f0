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

// runInstall runs the install machine from a shell, printing each transition
// and the status lines the charm would show.
func runInstall(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("install", flag.ContinueOnError)
	flags.SetOutput(stderr)
	volume := flags.String("volume", "", "the shared volume's directory (required)")
	rawVersion := flags.String("version", "", "the Concourse version to install, e.g. 7.14.3 (required)")
	rawURL := flags.String("url", "", "the tarball's http(s):// or file:// URL (default: the GitHub release)")
	file := flags.String("file", "", "a local tarball, e.g. a Juju resource (air-gapped installs)")
	baseURL := flags.String("base-url", "", "a release mirror laid out like "+storage.DefaultReleaseBaseURL)
	pin := flags.String("sha256", "", "the tarball's SHA-256, checked as well as the .sha1 sidecar (the charm's release-sha256)")
	unit := flags.String("unit", os.Getenv("JUJU_UNIT_NAME"), "the unit name recorded in the lock and markers")
	stageOnly := flags.Bool("stage-only", false, "stage the release under releases/<version> without switching current")
	revision := flags.Uint64("revision", 0, "the revision current is switched at (the upgrade's generation); a lower one than the volume's fence is refused")
	space := flags.String("space-needed", "", "the space the unpacked release needs, e.g. 800M (default: estimated)")
	flags.Usage = func() {
		fmt.Fprintln(stderr, "Usage: concourse-ci-machine install --volume DIR --version V [--url URL | --file PATH] [--sha256 HEX] [--unit NAME] [--space-needed SIZE] [--stage-only | --revision N]")
		flags.PrintDefaults()
	}
	if done, err := parseFlags(flags, args); done || err != nil {
		return err
	}
	switch {
	case flags.NArg() > 0:
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, flags.Args())
	case *volume == "":
		return fmt.Errorf("%w: --volume is required", errUsage)
	case *rawVersion == "":
		return fmt.Errorf("%w: --version is required", errUsage)
	case *rawURL != "" && *file != "":
		return fmt.Errorf("%w: give --url or --file, not both", errUsage)
	case *baseURL != "" && (*rawURL != "" || *file != ""):
		return fmt.Errorf("%w: --base-url does not combine with --url or --file", errUsage)
	}
	v, err := version.Parse(*rawVersion)
	if err != nil {
		return fmt.Errorf("%w: --version: %w", errUsage, err)
	}
	var spaceNeeded int64
	if *space != "" {
		if spaceNeeded, err = bytesize.Parse(*space); err != nil {
			return fmt.Errorf("%w: --space-needed: %w", errUsage, err)
		}
	}

	vol, err := storage.OpenVolume(*volume)
	if err != nil {
		return err
	}
	opts := installer.Options{
		Unit:        *unit,
		Source:      storage.Source{URL: *rawURL, File: *file},
		BaseURL:     *baseURL,
		SHA256:      *pin,
		Revision:    *revision,
		SpaceNeeded: spaceNeeded,
		OnStep:      func(s fsm.InstallStep) { fmt.Fprintf(stdout, "install: %s\n", s) },
		OnStatus:    func(msg string) { fmt.Fprintf(stdout, "status: %s\n", msg) },
		Logf:        func(format string, a ...any) { fmt.Fprintf(stderr, "install: "+format+"\n", a...) },
	}
	in := installer.New(vol, opts)
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
