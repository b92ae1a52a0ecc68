package rtc

import (
	"net"

	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
)

// bufferedNet is the operating system's network with larger socket buffers
// on every UDP socket pion opens (host candidates, STUN, TURN).
type bufferedNet struct {
	transport.Net
	size int
}

func newBufferedNet(size int) (transport.Net, error) {
	n, err := stdnet.NewNet()
	if err != nil {
		return nil, err
	}
	if size < 0 {
		return n, nil
	}
	return &bufferedNet{Net: n, size: size}, nil
}

type bufferSetter interface {
	SetReadBuffer(int) error
	SetWriteBuffer(int) error
}

func (n *bufferedNet) tune(c any) {
	if s, ok := c.(bufferSetter); ok {
		// Errors are ignored: the socket works with the default size, only
		// with more drops under bursts. Linux caps the size at
		// net.core.rmem_max unless the process may raise it (setSockBufForce).
		_ = s.SetReadBuffer(n.size)
		_ = s.SetWriteBuffer(n.size)
		setSockBufForce(c, n.size)
	}
}

func (n *bufferedNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, laddr)
	if err == nil {
		n.tune(c)
	}
	return c, err
}

func (n *bufferedNet) ListenPacket(network, address string) (net.PacketConn, error) {
	c, err := n.Net.ListenPacket(network, address)
	if err == nil {
		n.tune(c)
	}
	return c, err
}

func (n *bufferedNet) DialUDP(network string, laddr, raddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.DialUDP(network, laddr, raddr)
	if err == nil {
		n.tune(c)
	}
	return c, err
}
