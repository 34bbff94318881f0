package relation

import (
	"fmt"
	"strconv"
	"strings"
)

// Port is one line of opened-ports: a port, a range of ports, or icmp.
type Port struct {
	// Protocol is "tcp", "udp" or "icmp".
	Protocol string
	// From and To bound the range; To equals From for one port, both are
	// 0 for icmp.
	From, To int
}

// TCP is one tcp port.
func TCP(n int) Port { return Port{Protocol: "tcp", From: n, To: n} }

// Single says p is one port, the only kind open-port and close-port take.
func (p Port) Single() bool { return p.From != 0 && p.From == p.To }

// String is the port as opened-ports prints it: "8080/tcp",
// "8000-8010/udp", "icmp".
func (p Port) String() string {
	switch {
	case p.Protocol == "icmp":
		return "icmp"
	case p.From == p.To:
		return strconv.Itoa(p.From) + "/" + p.Protocol
	}
	return strconv.Itoa(p.From) + "-" + strconv.Itoa(p.To) + "/" + p.Protocol
}

// PortLineError is a line of opened-ports that names no port or range.
type PortLineError struct{ Line string }

func (e *PortLineError) Error() string {
	return fmt.Sprintf("opened-ports line %q is no port, range or icmp", e.Line)
}

// ParsePort reads one line of opened-ports.
func ParsePort(line string) (Port, error) {
	if line == "icmp" {
		return Port{Protocol: "icmp"}, nil
	}
	bad := &PortLineError{Line: line}
	ports, proto, ok := strings.Cut(line, "/")
	if !ok || (proto != "tcp" && proto != "udp") {
		return Port{}, bad
	}
	from, to, isRange := strings.Cut(ports, "-")
	if !isRange {
		to = from
	}
	p := Port{Protocol: proto}
	var err1, err2 error
	p.From, err1 = strconv.Atoi(from)
	p.To, err2 = strconv.Atoi(to)
	if err1 != nil || err2 != nil || p.From < 1 || p.To > 65535 || p.From > p.To {
		return Port{}, bad
	}
	return p, nil
}

// parseOpenedPorts reads opened-ports' output, one port a line; blank
// lines are skipped.
func parseOpenedPorts(out string) ([]Port, error) {
	ports := []Port{}
	for _, line := range strings.Split(out, "\n") {
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		p, err := ParsePort(line)
		if err != nil {
			return nil, err
		}
		ports = append(ports, p)
	}
	return ports, nil
}
