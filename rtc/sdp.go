package rtc

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/pion/ice/v4"
)

// blobSDP writes the session description pion needs from a peer's blob: the
// rest of it (session lines, the data channel's m-line, SCTP port, maximum
// message size) is fixed by version 1 of the protocol (docs/PROTOCOL.md §1.4).
func blobSDP(b *Blob, mid string) string {
	var s strings.Builder
	s.WriteString("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n")
	fmt.Fprintf(&s, "a=group:BUNDLE %s\r\n", mid)
	s.WriteString("a=fingerprint:sha-256 ")
	for i, x := range b.Fingerprint {
		if i > 0 {
			s.WriteByte(':')
		}
		fmt.Fprintf(&s, "%02X", x)
	}
	s.WriteString("\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n")
	fmt.Fprintf(&s, "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\n", b.ICEUfrag(), b.ICEPwd())
	fmt.Fprintf(&s, "a=setup:%s\r\na=mid:%s\r\na=sctp-port:%d\r\na=max-message-size:%d\r\n", b.Role, mid, sctpPort, MaxMessageSize)
	for i, c := range b.Candidates {
		s.WriteString("a=" + candidateLine(i, c) + "\r\n")
	}
	s.WriteString("a=end-of-candidates\r\n")
	return s.String()
}

// candidateLine writes candidate i of a blob as an SDP candidate attribute
// (RFC 8839 §5.1). Foundations are the 1-based index; priorities follow
// RFC 8445 §5.1.2.1 with the blob's order as local preference.
func candidateLine(i int, c Candidate) string {
	typePref := [...]uint32{CandidateHost: 126, CandidatePrflx: 110, CandidateSrflx: 100, CandidateRelay: 0}[c.Type]
	prio := typePref<<24 | uint32(65535-i)<<8 | (256 - 1)
	proto := "udp"
	if c.TCP {
		proto = "tcp"
	}
	line := fmt.Sprintf("candidate:%d 1 %s %d %s %d typ %s", i+1, proto, prio, c.Addr.Addr(), c.Addr.Port(), c.Type)
	if c.Type != CandidateHost {
		line += " raddr 0.0.0.0 rport 0"
	}
	if c.TCP {
		line += " tcptype " + c.TCPType.String()
	}
	return line
}

// sdpAttr returns the value of the first a=name: line of an SDP.
func sdpAttr(sdp, name string) string {
	for _, line := range strings.Split(sdp, "\n") {
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, "a="+name+":"); ok {
			return v
		}
	}
	return ""
}

// sdpCandidates returns the candidates of component 1 of an SDP that a blob
// can carry: not mDNS names, not link-local IPv6 addresses (they need a zone).
func sdpCandidates(sdp string) []Candidate {
	var out []Candidate
	for _, line := range strings.Split(sdp, "\n") {
		line = strings.TrimSpace(line)
		v, ok := strings.CutPrefix(line, "a=")
		if !ok || !strings.HasPrefix(v, "candidate:") {
			continue
		}
		ic, err := ice.UnmarshalCandidate(v)
		if err != nil || ic.Component() != ice.ComponentRTP {
			continue
		}
		addr, err := netip.ParseAddr(ic.Address())
		if err != nil || addr.Zone() != "" || (addr.Is6() && addr.IsLinkLocalUnicast()) {
			continue
		}
		c := Candidate{Addr: netip.AddrPortFrom(addr.Unmap(), uint16(ic.Port()))}
		switch ic.Type() {
		case ice.CandidateTypeHost:
			c.Type = CandidateHost
		case ice.CandidateTypeServerReflexive:
			c.Type = CandidateSrflx
		case ice.CandidateTypePeerReflexive:
			c.Type = CandidatePrflx
		case ice.CandidateTypeRelay:
			c.Type = CandidateRelay
		default:
			continue
		}
		if ic.NetworkType().IsTCP() {
			c.TCP = true
			switch ic.TCPType() {
			case ice.TCPTypeActive:
				c.TCPType = TCPTypeActive
			case ice.TCPTypePassive:
				c.TCPType = TCPTypePassive
			case ice.TCPTypeSimultaneousOpen:
				c.TCPType = TCPTypeSO
			default:
				continue
			}
		}
		if checkCandidate(c) != nil {
			continue
		}
		out = append(out, c)
	}
	return out
}

// selectCandidates drops duplicates (a server-reflexive address equal to a
// host address means there is no NAT), orders them host IPv4,
// server-reflexive, relay, host IPv6, loopback, TCP, and keeps at most max.
func selectCandidates(cs []Candidate, max int) []Candidate {
	seen := map[Candidate]bool{}
	hosts := map[netip.AddrPort]bool{}
	for _, c := range cs {
		if c.Type == CandidateHost {
			hosts[c.Addr] = true
		}
	}
	var out []Candidate
	for _, c := range cs {
		key := c
		key.Type = 0
		if seen[key] || (c.Type == CandidateSrflx && !c.TCP && hosts[c.Addr]) {
			continue
		}
		seen[key] = true
		out = append(out, c)
	}
	rank := func(c Candidate) int {
		a := c.Addr.Addr()
		switch {
		case c.Type == CandidateHost && !c.TCP && a.Is4() && !a.IsLoopback():
			return 0
		case c.Type == CandidateSrflx:
			return 1
		case c.Type == CandidateRelay:
			return 2
		case c.Type == CandidateHost && !c.TCP && !a.IsLoopback():
			return 3
		case c.TCP:
			return 5
		case a.IsLoopback():
			return 4
		}
		return 6
	}
	sort.SliceStable(out, func(i, j int) bool { return rank(out[i]) < rank(out[j]) })
	if len(out) <= max {
		return out
	}
	// Too many (hosts with many interfaces): first the best of each rank,
	// so that server-reflexive and relay candidates are never crowded out.
	var picked, rest []Candidate
	last := -1
	for _, c := range out {
		if r := rank(c); r != last && len(picked) < max {
			picked, last = append(picked, c), r
		} else {
			rest = append(rest, c)
		}
	}
	picked = append(picked, rest[:max-len(picked)]...)
	sort.SliceStable(picked, func(i, j int) bool { return rank(picked[i]) < rank(picked[j]) })
	return picked
}
