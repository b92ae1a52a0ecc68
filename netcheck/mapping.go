package netcheck

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Mapping is the NAT's mapping behaviour (RFC 4787 §4.1, RFC 5780 §4.3).
type Mapping string

const (
	// MappingUnknown: fewer than two distinct servers answered.
	MappingUnknown Mapping = "unknown"
	// MappingEndpointIndependent: one local socket is seen at the same public
	// endpoint by every server. Server-reflexive candidates work for peers, so
	// a direct connection is likely.
	MappingEndpointIndependent Mapping = "endpoint-independent"
	// MappingEndpointDependent: the public endpoint changes with the
	// destination ("symmetric NAT"). The endpoint a STUN server saw is useless
	// to the peer; a TURN relay is needed unless the peer's NAT is open.
	MappingEndpointDependent Mapping = "endpoint-dependent"
)

// MappingResult classifies the NAT from the answers of several servers to
// Binding requests sent from one local socket.
type MappingResult struct {
	Kind Mapping
	// NoNAT is true when the servers saw our own local address and port: the
	// host has a public address (or the servers are on the local network).
	NoNAT bool
	// SameServerIP is true when all answering servers share one IP address and
	// differ only in port: an address-dependent mapping cannot be told from an
	// endpoint-independent one then (RFC 5780 §4.3 needs a different IP).
	SameServerIP bool
	// Mapped lists the distinct public endpoints seen.
	Mapped []netip.AddrPort
	// Servers is the number of distinct server addresses that answered.
	Servers int
	// Detail explains the verdict in one sentence.
	Detail string
}

// ClassifyMapping compares the mapped endpoints that distinct servers reported
// for one local socket (the idea of RFC 5780 §4.3 test II/III without an
// RFC 5780 server: the second destination is another server instead of the
// server's alternate address). local is the socket's address and localIPs the
// addresses the host owns; they detect the no-NAT case.
func ClassifyMapping(local netip.AddrPort, localIPs []netip.Addr, results []STUNResult) MappingResult {
	seen := map[netip.AddrPort]netip.AddrPort{} // server -> mapped
	var servers []netip.AddrPort
	for _, r := range results {
		if r.Err != nil || !r.Mapped.IsValid() || !r.Addr.IsValid() {
			continue
		}
		if _, dup := seen[r.Addr]; dup {
			continue // two URLs for the same server address count once
		}
		seen[r.Addr] = r.Mapped
		servers = append(servers, r.Addr)
	}
	res := MappingResult{Kind: MappingUnknown, Servers: len(servers)}
	for _, s := range servers {
		if m := seen[s]; !slices.Contains(res.Mapped, m) {
			res.Mapped = append(res.Mapped, m)
		}
	}
	if len(res.Mapped) == 1 && res.Mapped[0].Port() == local.Port() && slices.Contains(localIPs, res.Mapped[0].Addr()) {
		res.NoNAT = true
	}
	if len(servers) < 2 {
		switch len(servers) {
		case 0:
			res.Detail = "no STUN server answered, so the NAT could not be examined"
		default:
			res.Detail = "only one STUN server answered; two are needed to compare the mappings"
		}
		return res
	}
	res.SameServerIP = true
	for _, s := range servers[1:] {
		if s.Addr() != servers[0].Addr() {
			res.SameServerIP = false
		}
	}
	if len(res.Mapped) == 1 {
		res.Kind = MappingEndpointIndependent
		if res.NoNAT {
			res.Detail = fmt.Sprintf("no NAT: %d servers saw this host's own address %s", len(servers), res.Mapped[0])
		} else {
			res.Detail = fmt.Sprintf("%d servers saw the same public endpoint %s", len(servers), res.Mapped[0])
		}
		if res.SameServerIP {
			res.Detail += " (all servers share one IP, so an address-dependent mapping would look the same)"
		}
		return res
	}
	res.Kind = MappingEndpointDependent
	parts := make([]string, 0, len(servers))
	for _, s := range servers {
		parts = append(parts, fmt.Sprintf("%s saw %s", s, seen[s]))
	}
	res.Detail = "one local socket got different public endpoints: " + strings.Join(parts, ", ")
	return res
}
