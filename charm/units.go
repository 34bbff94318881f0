package charm

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/unitname"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/version"
	"github.com/concourse-ci-machine/concourse-ci-machine/services"
)

// unitName is the systemd unit of a role on a charm unit (services names
// them: one per charm unit, so two units on one machine never collide).
func unitName(role Role, u unitname.Name) string {
	if role == RoleWeb {
		return services.WebUnitName(u)
	}
	return services.WorkerUnitName(u)
}

// releaseURL fills the configured URL template with v.
func releaseURL(template string, v version.Version) string {
	return strings.ReplaceAll(template, "{version}", v.String())
}

// renderUnit renders the role's unit pinned to releases/<v> and its
// environment file.
func (h *hook) renderUnit(ctx context.Context, role Role, v version.Version) (Unit, error) {
	name := unitName(role, h.hc.Unit)
	bin := filepath.Join(h.vol.ReleaseDir(v), "concourse", "bin", "concourse")
	envPath := filepath.Join(h.d.StateDir, string(role)+".env")
	env, err := h.environment(ctx, role, v)
	if err != nil {
		return Unit{}, err
	}
	var file services.UnitFile
	switch role {
	case RoleWorker:
		workDir, err := h.vol.WorkerDir(h.self)
		if err != nil {
			return Unit{}, err
		}
		file, err = services.WorkerUnit{
			Unit:            h.hc.Unit,
			Description:     fmt.Sprintf("Concourse CI worker %s of %s", v, h.self),
			Command:         []string{bin, "worker"},
			DrainHelper:     []string{h.d.Binary, "drain-worker"},
			EnvironmentFile: envPath,
			WorkDir:         workDir,
			MountsUnder:     workDir,
			DrainTimeout:    h.cfg.DrainTimeout,
		}.Render()
		if err != nil {
			return Unit{}, err
		}
	case RoleWeb:
		file, err = services.WebUnit{
			Unit:            h.hc.Unit,
			Description:     fmt.Sprintf("Concourse CI web %s of %s", v, h.self),
			Command:         []string{bin, "web"},
			EnvironmentFile: envPath,
		}.Render()
		if err != nil {
			return Unit{}, err
		}
	}
	return Unit{Name: name, Role: role, Release: v, File: file.Content, EnvPath: envPath, Env: env}, nil
}

// environment is the role's CONCOURSE_* settings.
func (h *hook) environment(ctx context.Context, role Role, v version.Version) (map[string]string, error) {
	env := map[string]string{"CONCOURSE_LOG_LEVEL": h.cfg.LogLevel}
	switch role {
	case RoleWorker:
		env["CONCOURSE_NAME"] = h.hc.Unit.Slug()
		env["CONCOURSE_RUNTIME"] = h.cfg.WorkerRuntime
	case RoleWeb:
		env["CONCOURSE_BIND_PORT"] = fmt.Sprint(h.cfg.WebPort)
	}
	return env, nil
}
