// Package fsm holds the charm's two state machines, upgrade and install,
// built on github.com/looplab/fsm. Each machine is defined once, as a Table;
// the looplab event list, validation, the CLI's diagrams and docs/states.md
// are all derived from that table and nothing else defines a transition.
//
// This package knows nothing of Juju, systemd or files.
package fsm

import (
	"context"
	"errors"
	"fmt"
	"sort"

	lfsm "github.com/looplab/fsm"
)

// Actor says who may fire an event.
type Actor string

const (
	// Leader events change the upgrade record in the application bag, which
	// only the Juju leader may write.
	Leader Actor = "leader"
	// AnyUnit events are taken by a unit for itself.
	AnyUnit Actor = "any unit"
	// LockHolder events are taken by whichever unit holds the volume lock.
	LockHolder Actor = "lock holder"
)

// State documents one state of a machine for operators.
type State struct {
	Name string
	// Meaning is one sentence on what the state means.
	Meaning string
	// WhenStuck is the runbook: what the operator does when it does not
	// move on.
	WhenStuck string
}

// Transition is one row of a machine's table.
type Transition struct {
	Event string
	From  []string
	To    string
	Who   Actor
	// Action is the operator action that fires the event, if any (see
	// actions.go); which hooks notice the other events is the charm's.
	Action string
	// Effect says what firing it does to systemd units and the volume.
	Effect string
}

// Table is the single definition of a state machine.
type Table struct {
	Machine     string
	Initial     string
	States      []State
	Transitions []Transition
}

// Events converts the table into looplab/fsm's event list.
func (t Table) Events() lfsm.Events {
	events := make(lfsm.Events, 0, len(t.Transitions))
	for _, tr := range t.Transitions {
		events = append(events, lfsm.EventDesc{Name: tr.Event, Src: append([]string(nil), tr.From...), Dst: tr.To})
	}
	return events
}

// StateNames returns the machine's states in table order.
func (t Table) StateNames() []string {
	names := make([]string, len(t.States))
	for i, s := range t.States {
		names[i] = s.Name
	}
	return names
}

// EventNames returns the distinct event names, sorted.
func (t Table) EventNames() []string {
	seen := map[string]bool{}
	var names []string
	for _, tr := range t.Transitions {
		if !seen[tr.Event] {
			seen[tr.Event] = true
			names = append(names, tr.Event)
		}
	}
	sort.Strings(names)
	return names
}

// machine returns a looplab machine for t sitting in state. No callbacks
// are registered, so none can be missed.
func (t Table) machine(state string) *lfsm.FSM {
	return lfsm.NewFSM(state, t.Events(), nil)
}

// allowed lists the events looplab accepts from state, sorted.
func (t Table) allowed(state string) []string {
	allowed := t.machine(state).AvailableTransitions()
	sort.Strings(allowed)
	return allowed
}

// fire takes event on m, a machine of t. An event the table does not allow
// from the current state is *InvalidEventError (the state is unchanged); a
// self-transition is a step taken, not an error. Background, never
// cancelled, goes to looplab: a cancelled context would wedge its machine.
func fire(t Table, m *lfsm.FSM, event string) error {
	from := m.Current()
	err := m.Event(context.Background(), event)
	var noTransition lfsm.NoTransitionError
	switch {
	case err == nil, errors.As(err, &noTransition) && noTransition.Err == nil:
		return nil
	case errors.As(err, &lfsm.InvalidEventError{}), errors.As(err, &lfsm.UnknownEventError{}):
		return &InvalidEventError{Machine: t.Machine, State: from, Event: event, Allowed: t.allowed(from)}
	}
	return fmt.Errorf("%s machine: event %q from %q: %w", t.Machine, event, from, err)
}

// State returns the documentation of a named state.
func (t Table) State(name string) (State, bool) {
	for _, s := range t.States {
		if s.Name == name {
			return s, true
		}
	}
	return State{}, false
}

// Validate checks that the table is self-consistent: every state it names is
// declared, no (state, event) pair has two destinations, and every declared
// state is reachable from the initial one.
func (t Table) Validate() error {
	declared := map[string]bool{}
	for _, s := range t.States {
		if s.Name == "" {
			return fmt.Errorf("%s machine: a state has no name", t.Machine)
		}
		if declared[s.Name] {
			return fmt.Errorf("%s machine: state %q declared twice", t.Machine, s.Name)
		}
		declared[s.Name] = true
	}
	if !declared[t.Initial] {
		return fmt.Errorf("%s machine: initial state %q is not declared", t.Machine, t.Initial)
	}
	type pair struct{ from, event string }
	dst := map[pair]string{}
	for _, tr := range t.Transitions {
		if tr.Event == "" || len(tr.From) == 0 || tr.Who == "" {
			return fmt.Errorf("%s machine: transition %+v lacks an event, a source or an actor", t.Machine, tr)
		}
		if !declared[tr.To] {
			return fmt.Errorf("%s machine: event %q goes to undeclared state %q", t.Machine, tr.Event, tr.To)
		}
		for _, from := range tr.From {
			if !declared[from] {
				return fmt.Errorf("%s machine: event %q leaves undeclared state %q", t.Machine, tr.Event, from)
			}
			p := pair{from, tr.Event}
			if prev, dup := dst[p]; dup {
				return fmt.Errorf("%s machine: event %q from %q goes to both %q and %q", t.Machine, tr.Event, from, prev, tr.To)
			}
			dst[p] = tr.To
		}
	}
	reached := map[string]bool{t.Initial: true}
	for changed := true; changed; {
		changed = false
		for _, tr := range t.Transitions {
			for _, from := range tr.From {
				if reached[from] && !reached[tr.To] {
					reached[tr.To] = true
					changed = true
				}
			}
		}
	}
	for _, s := range t.States {
		if !reached[s.Name] {
			return fmt.Errorf("%s machine: state %q cannot be reached from %q", t.Machine, s.Name, t.Initial)
		}
	}
	return nil
}

// Tables returns every machine the charm runs, in the order docs show them.
func Tables() []Table {
	return []Table{UpgradeTable(), InstallTable()}
}
