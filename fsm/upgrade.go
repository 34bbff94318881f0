package fsm

// UpgradeTable is a placeholder until the upgrade machine lands (issue 4).
func UpgradeTable() Table {
	return Table{Machine: "upgrade", Initial: "idle", States: []State{{Name: "idle"}}}
}
