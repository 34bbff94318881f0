// Package relation will hold the Juju hook tools (relation-get/-set,
// is-leader, status-set, action-*, config-get, juju-log, resource-get) behind
// a small interface, and the typed peer-relation records. Nothing is here yet:
// it comes with the charm wiring issue.
package relation
