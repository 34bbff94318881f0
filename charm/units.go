package charm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/concourse-ci-machine/concourse-ci-machine/concourse"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/fsutil"
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

// auxFile is a file a role's environment names, written by the charm
// next to the environment file (keys from the relations, a CA).
type auxFile struct {
	path string
	data []byte
	mode fs.FileMode
}

// FilesDigestVariable is set in every environment the charm renders to
// the digest of the files it names besides the cluster's keys (the
// authorized worker keys, the TSA's host keys, PostgreSQL's CA): the
// environment, and with it the service, changes exactly when one of them
// does. Concourse ignores it (it is not a CONCOURSE_* setting).
const FilesDigestVariable = "CHARM_FILES_SHA256"

// renderUnit renders the role's unit pinned to releases/<v> and its
// environment, and writes the files the environment names.
func (h *hook) renderUnit(ctx context.Context, role Role, v version.Version) (Unit, error) {
	name := unitName(role, h.hc.Unit)
	bin := filepath.Join(h.vol.ReleaseDir(v), "concourse", "bin", "concourse")
	envPath := h.statePath(string(role) + ".env")
	env, files, err := h.environment(ctx, role, v)
	if err != nil {
		return Unit{}, err
	}
	digest := sha256.New()
	for _, f := range files {
		if _, err := fsutil.WriteFileIfChanged(f.path, f.data, f.mode); err != nil {
			return Unit{}, err
		}
		sum := sha256.Sum256(f.data)
		fmt.Fprintf(digest, "%s %x\n", f.path, sum)
	}
	env[FilesDigestVariable] = hex.EncodeToString(digest.Sum(nil))
	var file services.UnitFile
	switch role {
	case RoleWorker:
		workDir := env["CONCOURSE_WORK_DIR"]
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
	case RoleWeb:
		file, err = services.WebUnit{
			Unit:            h.hc.Unit,
			Description:     fmt.Sprintf("Concourse CI web %s of %s", v, h.self),
			Command:         []string{bin, "web"},
			EnvironmentFile: envPath,
		}.Render()
	}
	if err != nil {
		return Unit{}, err
	}
	return Unit{Name: name, Role: role, Release: v, File: file.Content, EnvPath: envPath, Env: env}, nil
}

// environment is the role's settings and the files they name.
func (h *hook) environment(ctx context.Context, role Role, v version.Version) (map[string]string, []auxFile, error) {
	if role == RoleWeb {
		return h.webEnvironment(ctx)
	}
	return h.workerEnvironment(v)
}

// webEnvironment renders concourse.WebSettings for this unit.
func (h *hook) webEnvironment(ctx context.Context) (map[string]string, []auxFile, error) {
	password, err := h.adminPassword(ctx)
	if err != nil {
		return nil, nil, err
	}
	pg := h.wire.pg.Data.Concourse()
	s := concourse.WebSettings{
		Ports:                    h.wire.ports,
		ExternalURL:              h.externalURL(),
		PeerAddress:              h.wire.address,
		Postgres:                 pg,
		SessionSigningKeyFile:    h.wire.keys.files.SessionSigningKey,
		TSAHostKeyFile:           h.wire.keys.files.TSAHostKey,
		AuthorizedWorkerKeysFile: h.statePath(authorizedWorkerKeysFile),
		AdminUser:                h.cfg.InitialAdminUsername,
		AdminPassword:            password,
		ClusterName:              h.cfg.ClusterName,
		LogLevel:                 concourse.LogLevel(h.cfg.LogLevel),
		Proxy:                    h.proxy(),
		Extra:                    h.cfg.WebExtra,
	}
	files := []auxFile{{path: s.AuthorizedWorkerKeysFile, data: h.authorizedWorkerKeys(), mode: concourse.PublicKeyMode}}
	if pg.CACert != "" {
		s.PostgresCACertFile = h.statePath(postgresCACertFile)
		files = append(files, auxFile{path: s.PostgresCACertFile, data: []byte(pg.CACert + "\n"), mode: 0o644})
	}
	env, err := s.Env()
	return env, files, err
}

// externalURL is the configured URL, or web's own address and port.
func (h *hook) externalURL() string {
	if h.cfg.ExternalURL != "" || h.wire.address == "" {
		return h.cfg.ExternalURL
	}
	return "http://" + net.JoinHostPort(h.wire.address, strconv.Itoa(h.wire.ports.Web))
}

// workerEnvironment renders concourse.WorkerSettings for this unit, on
// release v.
func (h *hook) workerEnvironment(v version.Version) (map[string]string, []auxFile, error) {
	workDir, err := h.vol.WorkerDir(h.self)
	if err != nil {
		return nil, nil, err
	}
	tsa, err := h.workerTSA()
	if err != nil {
		return nil, nil, err
	}
	tsaKeys, err := concourse.RenderAuthorizedWorkerKeys("the TSA offers", tsa.PublicKeys)
	if err != nil {
		return nil, nil, err
	}
	s := concourse.WorkerSettings{
		Name:                 concourse.WorkerName(h.hc.Model, h.hc.Unit),
		Ports:                h.wire.ports,
		WorkDir:              workDir,
		TSAHosts:             tsa.Hosts,
		TSAPublicKeyFile:     h.statePath(tsaHostKeysFile),
		WorkerPrivateKeyFile: h.wire.keys.files.WorkerKey,
		Runtime:              concourse.Runtime(h.cfg.WorkerRuntime),
		BaggageclaimDriver:   concourse.BaggageclaimDriver(h.cfg.BaggageclaimDriver),
		ReleaseDir:           filepath.Join(h.vol.ReleaseDir(v), "concourse"),
		Tags:                 h.cfg.WorkerTags,
		LogLevel:             concourse.LogLevel(h.cfg.LogLevel),
		Proxy:                h.proxy(),
		Extra:                h.cfg.WorkerExtra,
	}
	env, err := s.Env()
	return env, []auxFile{{path: s.TSAPublicKeyFile, data: tsaKeys, mode: concourse.PublicKeyMode}}, err
}
