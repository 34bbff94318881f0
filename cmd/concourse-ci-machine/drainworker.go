package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"os"

	"github.com/concourse-ci-machine/concourse-ci-machine/services"
)

func drainWorkerCommand() command {
	return command{
		name:    "drain-worker",
		args:    "--state-dir DIR [--timeout D] [--grace D] | --unmount-under DIR",
		summary: "drain a worker unit's main process ($MAINPID); run by systemd on stop",
		about: `The worker unit's stop helper: systemd runs it as the unit's ExecStop= (and
ExecStopPost=), see services.RunDrainHelper. It sends the main process
($MAINPID) the land signal (retire when the unit is being retired), waits
--timeout, then SIGTERM and --grace, then SIGKILL, and records how it ended
in --state-dir. With --unmount-under it only unmounts what the stopped
worker left mounted under DIR.`,
		flags: drainWorkerFlags,
	}
}

// drainWorkerFlags declares the drain helper's flags, so that they are
// checked and listed like every other command's, and hands the ones given
// on to services.RunDrainHelper, which owns their meaning.
func drainWorkerFlags(fs *flag.FlagSet) action {
	fs.Duration("timeout", services.DefaultDrainTimeout, "how long the worker may take to drain")
	fs.Duration("grace", services.DefaultStopGrace, "how long the worker may take to exit after SIGTERM")
	fs.String("state-dir", "", "where the retire flag is read and the result written (an absolute path)")
	fs.String("unmount-under", "", "unmount everything under this directory, and do nothing else")
	return func(ctx context.Context, args []string, _, stderr io.Writer) error {
		if len(args) > 0 {
			return usagef("drain-worker takes no arguments, got %q", args)
		}
		var given []string
		fs.Visit(func(f *flag.Flag) { given = append(given, "--"+f.Name+"="+f.Value.String()) })
		err := services.RunDrainHelper(ctx, given, os.Getenv, stderr)
		if ve, ok := errors.AsType[*services.ValidationError](err); ok {
			return &usageError{msg: ve.Error()}
		}
		return err
	}
}
