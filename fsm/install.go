package fsm

// InstallTable is a placeholder until the install machine lands (issue 3).
func InstallTable() Table {
	return Table{Machine: "install", Initial: "absent", States: []State{{Name: "absent"}}}
}
