package fsm

// Operator actions, as actions.yaml declares them. The table, the generated
// docs and the charm all use these constants: one place for each name.
const (
	ActionUpgrade          = "upgrade"
	ActionUpgradeStatus    = "upgrade-status"
	ActionUpgradeAbort     = "upgrade-abort"
	ActionUpgradeRetry     = "upgrade-retry"
	ActionUpgradeRollback  = "upgrade-rollback"
	ActionGetAdminPassword = "get-admin-password"
)

// Actions lists every action the charm declares, in actions.yaml order.
func Actions() []string {
	return []string{ActionUpgrade, ActionUpgradeStatus, ActionUpgradeAbort, ActionUpgradeRetry, ActionUpgradeRollback, ActionGetAdminPassword}
}
