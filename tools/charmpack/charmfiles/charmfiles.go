// Package charmfiles reads the charm's charmcraft.yaml, the one source of
// its metadata, config options and actions, and derives from it the files a
// Juju 3 controller reads from a packed charm (metadata.yaml, config.yaml,
// actions.yaml, manifest.yaml), the way `charmcraft pack` does.
//
// It needs a YAML library, so only tools and tests import it, never the
// charm's binary: tests of the charm call ConfigNames and ActionNames to
// check that every option and action the code reads is declared and the
// other way round.
package charmfiles

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// FileName is the charm's project file at the repository root.
const FileName = "charmcraft.yaml"

// Charmcraft is charmcraft.yaml, the keys this charm uses. Unknown keys are
// refused when it is read, so a key added to the file without being handled
// here (and so dropped from the packed charm) is caught.
type Charmcraft struct {
	Name        string               `yaml:"name"`
	Type        string               `yaml:"type"`
	Title       string               `yaml:"title"`
	Summary     string               `yaml:"summary"`
	Description string               `yaml:"description"`
	Assumes     []string             `yaml:"assumes"`
	Platforms   map[string]*Platform `yaml:"platforms"`
	Parts       map[string]Part      `yaml:"parts"`
	Peers       map[string]Relation  `yaml:"peers"`
	Requires    map[string]Relation  `yaml:"requires"`
	Provides    map[string]Relation  `yaml:"provides"`
	Storage     map[string]Storage   `yaml:"storage"`
	Resources   map[string]Resource  `yaml:"resources"`
	Config      struct {
		Options map[string]Option `yaml:"options"`
	} `yaml:"config"`
	Actions map[string]Action `yaml:"actions"`
}

// Platform is a platforms entry; this charm uses the "<base>:<arch>"
// shorthand names, whose value is empty.
type Platform struct {
	BuildOn  []string `yaml:"build-on"`
	BuildFor []string `yaml:"build-for"`
}

// Part is a craft-parts part, the keys the charm's parts use.
type Part struct {
	Plugin           string              `yaml:"plugin"`
	Source           string              `yaml:"source"`
	BuildSnaps       []string            `yaml:"build-snaps"`
	BuildEnvironment []map[string]string `yaml:"build-environment"`
	OverrideBuild    string              `yaml:"override-build"`
	Prime            []string            `yaml:"prime"`
}

// Relation is an endpoint of peers, requires or provides.
type Relation struct {
	Interface   string `yaml:"interface"`
	Limit       int    `yaml:"limit,omitempty"`
	Optional    bool   `yaml:"optional,omitempty"`
	Scope       string `yaml:"scope,omitempty"`
	Description string `yaml:"description,omitempty"`
}

// Storage is a storage declaration.
type Storage struct {
	Type        string `yaml:"type"`
	Description string `yaml:"description,omitempty"`
	Location    string `yaml:"location,omitempty"`
	MinimumSize string `yaml:"minimum-size,omitempty"`
	Shared      bool   `yaml:"shared,omitempty"`
	ReadOnly    bool   `yaml:"read-only,omitempty"`
}

// Resource is a charm resource.
type Resource struct {
	Type        string `yaml:"type"`
	Filename    string `yaml:"filename,omitempty"`
	Description string `yaml:"description,omitempty"`
}

// Option is a config option.
type Option struct {
	Type        string `yaml:"type"`
	Default     any    `yaml:"default"`
	Description string `yaml:"description"`
}

// Action is an action with its JSON-schema parameters.
type Action struct {
	Description          string                    `yaml:"description"`
	Params               map[string]map[string]any `yaml:"params,omitempty"`
	Required             []string                  `yaml:"required,omitempty"`
	AdditionalProperties *bool                     `yaml:"additionalProperties,omitempty"`
}

// Base is one entry of manifest.yaml's bases, as Juju reads it
// (juju/charm manifest.go: name, channel, architectures).
type Base struct {
	Name          string   `yaml:"name"`
	Channel       string   `yaml:"channel"`
	Architectures []string `yaml:"architectures"`
}

// Load reads and checks the charmcraft.yaml at path.
func Load(path string) (*Charmcraft, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(data)
}

// Parse reads charmcraft.yaml's content strictly and checks it (Check).
func Parse(data []byte) (*Charmcraft, error) {
	var c Charmcraft
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%s: %w", FileName, err)
	}
	if err := c.Check(); err != nil {
		return nil, err
	}
	return &c, nil
}

// LoadRoot reads charmcraft.yaml at the root of the module that holds dir.
func LoadRoot(dir string) (*Charmcraft, error) {
	root, err := FindRoot(dir)
	if err != nil {
		return nil, err
	}
	return Load(filepath.Join(root, FileName))
}

// FindRoot walks up from dir to the directory holding go.mod.
func FindRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above " + dir)
		}
		dir = parent
	}
}

// ConfigNames lists the declared config options, sorted.
func (c *Charmcraft) ConfigNames() []string { return slices.Sorted(maps.Keys(c.Config.Options)) }

// ActionNames lists the declared actions, sorted.
func (c *Charmcraft) ActionNames() []string { return slices.Sorted(maps.Keys(c.Actions)) }

// ActionParams lists an action's declared parameters, sorted.
func (c *Charmcraft) ActionParams(action string) []string {
	return slices.Sorted(maps.Keys(c.Actions[action].Params))
}

var (
	nameRE     = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)
	platformRE = regexp.MustCompile(`^(ubuntu)@([0-9]+\.[0-9]+):(amd64|arm64|ppc64el|riscv64|s390x)$`)
	optionType = []string{"string", "int", "float", "boolean", "secret"}
)

// Check applies the rules Juju and charmcraft apply that the charm relies
// on, and the charm's own: one-line descriptions, defaults of the declared
// type, no shared storage (Juju refuses it for machine charms).
func (c *Charmcraft) Check() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(FileName+": "+format, args...)) }
	if !nameRE.MatchString(c.Name) {
		bad("name %q is not a charm name", c.Name)
	}
	if c.Type != "charm" {
		bad("type is %q, not charm", c.Type)
	}
	if c.Summary == "" || c.Description == "" {
		bad("summary and description are required")
	}
	if _, err := c.Bases(); err != nil {
		errs = append(errs, err)
	}
	for name, o := range c.Config.Options {
		switch {
		case !nameRE.MatchString(name):
			bad("config option %q: not a lower-case, hyphenated name", name)
		case !slices.Contains(optionType, o.Type):
			bad("config option %s: type %q is not one of %s", name, o.Type, strings.Join(optionType, ", "))
		case !defaultFits(o):
			bad("config option %s: default %v is not a %s", name, o.Default, o.Type)
		case o.Description == "" || strings.Contains(strings.TrimSpace(o.Description), "\n"):
			bad("config option %s: needs a one-line description", name)
		}
	}
	for name, a := range c.Actions {
		if !nameRE.MatchString(name) {
			bad("action %q: not a lower-case, hyphenated name", name)
		}
		if a.Description == "" {
			bad("action %s: needs a description", name)
		}
		for p, schema := range a.Params {
			if schema["type"] == nil || schema["description"] == nil {
				bad("action %s: parameter %s needs a type and a description", name, p)
			}
		}
		for _, r := range a.Required {
			if _, ok := a.Params[r]; !ok {
				bad("action %s: required parameter %s is not declared", name, r)
			}
		}
	}
	for kind, rels := range map[string]map[string]Relation{"peers": c.Peers, "requires": c.Requires, "provides": c.Provides} {
		for name, r := range rels {
			if r.Interface == "" || !nameRE.MatchString(name) {
				bad("%s %s: needs a hyphenated name and an interface", kind, name)
			}
		}
	}
	for name, s := range c.Storage {
		if s.Shared {
			bad("storage %s: shared: true is refused by Juju for machine charms", name)
		}
		if s.Type != "filesystem" && s.Type != "block" {
			bad("storage %s: type %q", name, s.Type)
		}
	}
	return errors.Join(errs...)
}

func defaultFits(o Option) bool {
	switch o.Default.(type) {
	case nil:
		return true
	case string:
		return o.Type == "string" || o.Type == "secret"
	case int:
		return o.Type == "int" || o.Type == "float"
	case float64:
		return o.Type == "float"
	case bool:
		return o.Type == "boolean"
	default:
		return false
	}
}

// Bases derives manifest.yaml's bases from the "<base>:<arch>" platform
// names, one base per channel with its architectures.
func (c *Charmcraft) Bases() ([]Base, error) {
	if len(c.Platforms) == 0 {
		return nil, errors.New(FileName + ": no platforms")
	}
	var bases []Base
	for _, name := range slices.Sorted(maps.Keys(c.Platforms)) {
		m := platformRE.FindStringSubmatch(name)
		if m == nil || c.Platforms[name] != nil {
			return nil, fmt.Errorf("%s: platform %q is not of the form ubuntu@YY.MM:ARCH (with no value)", FileName, name)
		}
		i := slices.IndexFunc(bases, func(b Base) bool { return b.Channel == m[2] })
		if i < 0 {
			bases = append(bases, Base{Name: m[1], Channel: m[2]})
			i = len(bases) - 1
		}
		bases[i].Architectures = append(bases[i].Architectures, m[3])
	}
	return bases, nil
}

// Architectures lists every architecture of the platforms, sorted.
func (c *Charmcraft) Architectures() []string {
	var archs []string
	bases, _ := c.Bases()
	for _, b := range bases {
		for _, a := range b.Architectures {
			if !slices.Contains(archs, a) {
				archs = append(archs, a)
			}
		}
	}
	slices.Sort(archs)
	return archs
}

// metadata is metadata.yaml as charmcraft writes it (title becomes
// display-name).
type metadata struct {
	Name        string              `yaml:"name"`
	DisplayName string              `yaml:"display-name,omitempty"`
	Summary     string              `yaml:"summary"`
	Description string              `yaml:"description"`
	Assumes     []string            `yaml:"assumes,omitempty"`
	Peers       map[string]Relation `yaml:"peers,omitempty"`
	Requires    map[string]Relation `yaml:"requires,omitempty"`
	Provides    map[string]Relation `yaml:"provides,omitempty"`
	Storage     map[string]Storage  `yaml:"storage,omitempty"`
	Resources   map[string]Resource `yaml:"resources,omitempty"`
}

const generated = "# Generated from charmcraft.yaml by tools/charmpack; edit charmcraft.yaml.\n"

// JujuFiles derives the files a Juju 3 controller reads from a packed
// charm, by name.
func (c *Charmcraft) JujuFiles() (map[string][]byte, error) {
	bases, err := c.Bases()
	if err != nil {
		return nil, err
	}
	docs := map[string]any{
		"metadata.yaml": metadata{
			Name: c.Name, DisplayName: c.Title, Summary: c.Summary, Description: c.Description,
			Assumes: c.Assumes, Peers: c.Peers, Requires: c.Requires, Provides: c.Provides,
			Storage: c.Storage, Resources: c.Resources,
		},
		"config.yaml":   map[string]any{"options": c.Config.Options},
		"actions.yaml":  c.Actions,
		"manifest.yaml": map[string]any{"bases": bases},
	}
	out := map[string][]byte{}
	for name, doc := range docs {
		var b bytes.Buffer
		b.WriteString(generated)
		enc := yaml.NewEncoder(&b)
		enc.SetIndent(2)
		if err := enc.Encode(doc); err != nil {
			return nil, fmt.Errorf("render %s: %w", name, err)
		}
		if err := enc.Close(); err != nil {
			return nil, err
		}
		out[name] = b.Bytes()
	}
	return out, nil
}
