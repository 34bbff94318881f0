package services

import (
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/unitname"
)

// Unit names: one unit file per charm unit, "concourse-web-<app>-<N>.service"
// and "concourse-worker-<app>-<N>.service". Not templates
// (concourse-worker@<slug>.service): every unit's file carries its own
// values (environment file, work dir, drain timeout, the path of the charm
// that drains it) instead of deriving them from %i, so installing or
// removing one unit never touches a file another unit's worker runs from,
// and no instance name needs systemd-escaping. unitname keeps the slug to
// [a-z0-9-], at most 73 characters: the names stay far below systemd's
// 255-character limit.
const (
	webUnitPrefix    = "concourse-web-"
	workerUnitPrefix = "concourse-worker-"
)

// WebUnitName is the unit that runs `concourse web` for the charm unit u.
func WebUnitName(u unitname.Name) string { return webUnitPrefix + u.Slug() + ".service" }

// WorkerUnitName is the unit that runs `concourse worker` for the charm unit u.
func WorkerUnitName(u unitname.Name) string { return workerUnitPrefix + u.Slug() + ".service" }
