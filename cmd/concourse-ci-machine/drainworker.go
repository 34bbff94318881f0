package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/concourse-ci-machine/concourse-ci-machine/services"
)

// runDrainWorker is the worker unit's stop helper: systemd runs it as the
// unit's ExecStop= (and ExecStopPost=), see services.RunDrainHelper.
func runDrainWorker(ctx context.Context, args []string, _, stderr io.Writer) error {
	err := services.RunDrainHelper(ctx, args, os.Getenv, stderr)
	var ve *services.ValidationError
	switch {
	case errors.Is(err, flag.ErrHelp):
		return nil
	case errors.As(err, &ve):
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	return err
}
