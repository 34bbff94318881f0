// Package charm will hold hook and action dispatch, the web/worker roles and
// the status messages, wiring fsm, storage, services and relation together.
// Nothing is here yet: it comes with the charm wiring issue.
package charm
