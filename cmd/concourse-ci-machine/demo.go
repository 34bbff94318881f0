package main

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"

	"github.com/concourse-ci-machine/concourse-ci-machine/storage"
	"github.com/concourse-ci-machine/concourse-ci-machine/storage/releasetest"
)

// demoDefaultJSON is the embedded default the demo runs with, so `make demo`
// needs no arguments.
//
//go:embed demo_default.json
var demoDefaultJSON []byte

type demoConfig struct {
	App                 string `json:"app"`
	Units               int    `json:"units"`
	Version             string `json:"version"`
	UpgradeTo           string `json:"upgrade_to"`
	ReleasePaddingBytes int64  `json:"release_padding_bytes"`
}

// runDemo runs several units against one local volume: first each unit is a
// separate OS process running `install` at the same moment (one download,
// the rest wait on the volume lock and reuse it), then each takes its worker
// directory, then the units upgrade together through the upgrade state
// machine, then `inspect` shows the volume.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg demoConfig
	if err := json.Unmarshal(demoDefaultJSON, &cfg); err != nil {
		return fmt.Errorf("embedded demo default: %w", err)
	}
	flags := flag.NewFlagSet("demo", flag.ContinueOnError)
	flags.SetOutput(stderr)
	flags.IntVar(&cfg.Units, "units", cfg.Units, "how many units share the volume")
	flags.StringVar(&cfg.Version, "version", cfg.Version, "the release every unit installs first")
	flags.StringVar(&cfg.UpgradeTo, "upgrade-to", cfg.UpgradeTo, "the release the cluster then upgrades to")
	publishUpgrade := flags.Bool("publish-upgrade", true, "serve the --upgrade-to release (false shows an upgrade to a missing release being refused)")
	volumeDir := flags.String("volume", "", "the shared volume's directory (default: a new temporary directory, removed afterwards)")
	if done, err := parseFlags(flags, args); done || err != nil {
		return err
	}
	if cfg.Units < 1 || cfg.Units > 32 {
		return fmt.Errorf("%w: --units must be between 1 and 32, got %d", errUsage, cfg.Units)
	}
	if cfg.Version == cfg.UpgradeTo {
		return fmt.Errorf("%w: --version and --upgrade-to must differ (both %s)", errUsage, cfg.Version)
	}

	dir := *volumeDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "concourse-demo-volume-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}

	server := releasetest.NewServer()
	defer server.Close()
	published := []string{cfg.Version}
	if *publishUpgrade {
		published = append(published, cfg.UpgradeTo)
	}
	for _, v := range published {
		tarball, err := releasetest.Build(releasetest.Spec{Version: v, Padding: cfg.ReleasePaddingBytes})
		if err != nil {
			return fmt.Errorf("build demo release %s: %w", v, err)
		}
		server.AddRelease(v, tarball)
	}
	fmt.Fprintf(stdout, "== Shared volume %s, release server %s, %d units of %q\n\n", dir, server.URL(), cfg.Units, cfg.App)

	fmt.Fprintf(stdout, "== 1. Every unit installs Concourse %s at once, each a separate process\n", cfg.Version)
	if err := demoInstallRace(ctx, cfg, dir, server.BaseURL(), stdout); err != nil {
		return err
	}
	hits := server.Hits(releasetest.ReleasePath(cfg.Version))
	fmt.Fprintf(stdout, "-> the release server saw %d download(s) of %s for %d units\n\n", hits, releasetest.AssetName(cfg.Version), cfg.Units)
	if hits != 1 {
		return fmt.Errorf("expected exactly one download for the cluster, the server saw %d", hits)
	}

	fmt.Fprintf(stdout, "== 2. Each unit takes its own worker directory and reads the volume token\n")
	vol, err := storage.OpenVolume(dir)
	if err != nil {
		return err
	}
	if err := demoJoin(ctx, cfg, vol, stdout); err != nil {
		return err
	}
	systemd, err := startDemoSystemd(ctx)
	if err != nil {
		fmt.Fprintf(stdout, "(no private systemd here, so the worker units are described, not run: %v)\n", err)
		systemd = nil
	} else {
		defer func() {
			if err := systemd.stop(); err != nil {
				fmt.Fprintf(stderr, "demo: stopping the private systemd: %v\n", err)
			}
		}()
		fmt.Fprintf(stdout, "Each unit starts its worker in a private systemd (socket %s):\n", systemd.inst.PrivateSocket)
		for i := 0; i < cfg.Units; i++ {
			if err := systemd.installWorker(ctx, vol, fmt.Sprintf("%s/%d", cfg.App, i), stdout); err != nil {
				return err
			}
		}
	}
	fmt.Fprintf(stdout, "\n== 3. The leader runs: juju run %s/leader upgrade version=%s\n", cfg.App, cfg.UpgradeTo)
	cluster, err := newDemoCluster(cfg, vol, server.BaseURL(), systemd, stdout)
	if err != nil {
		return err
	}
	if err := cluster.upgrade(ctx, cfg.UpgradeTo); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "-> the release server saw %d download(s) of %s\n\n", server.Hits(releasetest.ReleasePath(cfg.UpgradeTo)), releasetest.AssetName(cfg.UpgradeTo))

	fmt.Fprintf(stdout, "== 4. concourse-ci-machine inspect %s\n", dir)
	if err := runInspect(ctx, []string{dir}, stdout, stderr); err != nil {
		return err
	}
	if systemd != nil {
		fmt.Fprintf(stdout, "\n== 5. The units are removed: their workers retire\n")
		return systemd.removeWorkers(ctx, cluster.names(), stdout)
	}
	return nil
}

// demoInstallRace starts one `install` process per unit and prints their
// output, each line prefixed with its unit.
func demoInstallRace(ctx context.Context, cfg demoConfig, dir, baseURL string, stdout io.Writer) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find this program to start the units: %w", err)
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs = make([]error, cfg.Units)
	)
	for i := 0; i < cfg.Units; i++ {
		unit := fmt.Sprintf("%s/%d", cfg.App, i)
		cmd := exec.CommandContext(ctx, self, "install", "--volume", dir, "--version", cfg.Version, "--base-url", baseURL, "--unit", unit)
		cmd.Env = append(os.Environ(), "JUJU_DISPATCH_PATH=")
		w := &prefixWriter{prefix: unit + "  ", out: stdout, mu: &mu}
		cmd.Stdout, cmd.Stderr = w, w
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := cmd.Run(); err != nil {
				errs[i] = fmt.Errorf("%s: install: %w", unit, err)
			}
			w.flush()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// prefixWriter prints whole lines, each behind a prefix, to a shared output.
type prefixWriter struct {
	prefix  string
	out     io.Writer
	mu      *sync.Mutex
	pending []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pending = append(p.pending, b...)
	for {
		i := bytes.IndexByte(p.pending, '\n')
		if i < 0 {
			return len(b), nil
		}
		fmt.Fprintf(p.out, "%s%s\n", p.prefix, p.pending[:i])
		p.pending = p.pending[i+1:]
	}
}

func (p *prefixWriter) flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s := strings.TrimSpace(string(p.pending)); s != "" {
		fmt.Fprintf(p.out, "%s%s\n", p.prefix, s)
	}
	p.pending = nil
}

// demoJoin is what each unit does when it joins: its own worker directory,
// and the volume token that the units compare to prove the volume is shared.
func demoJoin(ctx context.Context, cfg demoConfig, vol *storage.Volume, stdout io.Writer) error {
	for i := 0; i < cfg.Units; i++ {
		unit := fmt.Sprintf("%s/%d", cfg.App, i)
		dir, err := vol.WorkerDir(unit)
		if err != nil {
			return err
		}
		lock, err := vol.Lock(ctx, storage.Holder{Unit: unit})
		if err != nil {
			return err
		}
		id, err := lock.EnsureVolumeID()
		if err := errors.Join(err, lock.Release()); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s  worker dir %s, volume token %s\n", unit, dir, id)
	}
	return nil
}
