package charm

// Role is a Concourse role a unit takes.
type Role string

// Roles.
const (
	RoleWeb    Role = "web"
	RoleWorker Role = "worker"
)

// Roles are the roles one unit takes now.
type Roles struct {
	Web    bool
	Worker bool
}

// RolesFor derives a unit's roles from the mode and its leadership. In
// auto the leader runs web and the others run workers, so web runs on
// exactly one unit: when leadership moves, the old leader stops web in its
// next hook (it learns it lost leadership) and the new one starts it.
func RolesFor(mode Mode, leader bool) Roles {
	switch mode {
	case ModeWeb:
		return Roles{Web: true}
	case ModeWorker:
		return Roles{Worker: true}
	case ModeAll:
		return Roles{Web: true, Worker: true}
	}
	return Roles{Web: leader, Worker: !leader}
}

func (r Roles) String() string {
	switch {
	case r.Web && r.Worker:
		return "web+worker"
	case r.Web:
		return "web"
	case r.Worker:
		return "worker"
	}
	return "none"
}
