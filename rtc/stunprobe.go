package rtc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/pion/stun/v3"
)

// ProbeSTUN sends STUN binding requests (RFC 8489 §6) over UDP to the server
// of a stun: URL until it answers or ctx ends, and returns this host's
// address as the server saw it. network is "udp4" or "udp6".
func ProbeSTUN(ctx context.Context, url, network string) (netip.AddrPort, error) {
	u, err := stun.ParseURI(url)
	if err != nil {
		return netip.AddrPort{}, err
	}
	if u.Scheme != stun.SchemeTypeSTUN {
		return netip.AddrPort{}, fmt.Errorf("%s: only stun: URLs can be probed", url)
	}
	var resolver net.Resolver
	ips, err := resolver.LookupNetIP(ctx, map[string]string{"udp4": "ip4", "udp6": "ip6"}[network], u.Host)
	if err != nil || len(ips) == 0 {
		return netip.AddrPort{}, fmt.Errorf("%s: cannot resolve %s: %w", url, u.Host, err)
	}
	server := net.UDPAddrFromAddrPort(netip.AddrPortFrom(ips[0].Unmap(), uint16(u.Port)))
	conn, err := net.ListenUDP(network, nil)
	if err != nil {
		return netip.AddrPort{}, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Now()) })
	defer stop()

	req, err := stun.Build(stun.TransactionID, stun.BindingRequest, stun.Fingerprint)
	if err != nil {
		return netip.AddrPort{}, err
	}
	buf := make([]byte, 1500)
	// Retransmit with the doubling interval of RFC 8489 §6.2.1, from 250 ms.
	for rto := 250 * time.Millisecond; ; rto = min(2*rto, 2*time.Second) {
		if _, err := conn.WriteToUDP(req.Raw, server); err != nil {
			return netip.AddrPort{}, fmt.Errorf("%s: %w", url, err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(rto))
		for {
			n, _, err := conn.ReadFromUDP(buf)
			if err != nil {
				if ctx.Err() != nil {
					return netip.AddrPort{}, fmt.Errorf("%s (%s) did not answer: %w", url, server, ctx.Err())
				}
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					break // retransmit
				}
				return netip.AddrPort{}, fmt.Errorf("%s (%s): %w", url, server, err)
			}
			res := &stun.Message{Raw: append([]byte(nil), buf[:n]...)}
			if res.Decode() != nil || res.TransactionID != req.TransactionID {
				continue
			}
			var xor stun.XORMappedAddress
			if err := xor.GetFrom(res); err != nil {
				return netip.AddrPort{}, fmt.Errorf("%s: answer without a mapped address: %w", url, err)
			}
			a, _ := netip.AddrFromSlice(xor.IP)
			return netip.AddrPortFrom(a.Unmap(), uint16(xor.Port)), nil
		}
	}
}

// stunTarget formats host:port of a stun: URL for messages.
func stunTarget(url string) string {
	u, err := stun.ParseURI(url)
	if err != nil {
		return url
	}
	return net.JoinHostPort(u.Host, strconv.Itoa(u.Port))
}
