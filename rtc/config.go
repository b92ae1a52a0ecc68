package rtc

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/pion/stun/v3"
	"github.com/pion/transport/v5"
)

// DefaultSTUN are the STUN servers of DefaultConfig: Google's public ones,
// which most WebRTC applications use.
var DefaultSTUN = []string{
	"stun:stun.l.google.com:19302",
	"stun:stun1.l.google.com:19302",
}

// Defaults of the zero fields of a Config.
const (
	DefaultGatherTimeout  = 5 * time.Second
	DefaultAnswerWait     = 10 * time.Minute
	DefaultConnectTimeout = 30 * time.Second
	DefaultFailedTimeout  = 25 * time.Second
	DefaultMaxCandidates  = 8
	// DefaultSocketBuffer is the receive and send buffer asked for on every
	// UDP socket. Linux's default of 208 KiB overflows under a burst of SCTP
	// packets, and SCTP then backs off, which halves throughput on some runs.
	DefaultSocketBuffer = 4 << 20
	// MaxMessageSize is the largest message a Conn sends or accepts.
	MaxMessageSize = 64 << 10

	// DefaultSCTPMinCwnd is the floor of the data channel's SCTP congestion
	// window. RFC 9260 §7.2.3 (as RFC 4960 before it) drops the window to one
	// packet after every retransmission timeout and halves it on every fast
	// retransmission; pion does so, and as a packet overtaken by a later one
	// also counts as a loss there, on a lossy or reordering path the window
	// stays at a few packets and a transfer crawls (BenchmarkLossyTransfer:
	// 1 MiB through 10% loss in about 1 s with rtc's settings, 17 s with
	// pion's). The floor deviates from the RFC:
	// with it a sender backs off less than TCP would on a congested path,
	// and it is also the window a transfer starts with (RFC 9260 §7.2.1:
	// about 4 packets).
	// We accept that for a two-party messenger, and keep it small: at most
	// MaxSCTPMinCwnd, about 50 packets: the largest window TCP had before
	// window scaling (RFC 7323).
	DefaultSCTPMinCwnd = 64 << 10
	// MaxSCTPMinCwnd is the largest Config.SCTPMinCwnd accepted.
	MaxSCTPMinCwnd = 64 << 10
	// DefaultSCTPRTOMax caps SCTP's retransmission timeout. RFC 9260 §16
	// has RTO.Max = 60 s: each timeout in a row doubles the RTO up to it, so
	// after a few lost retransmissions (frequent at 30% loss, or after a
	// link cut) the sender sits idle for up to a minute before it tries
	// again. pion's RTO.Min is 1 s, so 4 s lets it double twice. It is not
	// lower because pion abandons association set-up at the 9th timeout of
	// INIT or COOKIE ECHO (8 retransmissions), each timed by the same RTO:
	// 1, 2, then 4 s apart the attempts span 31 s, beyond
	// DefaultConnectTimeout, while with a cap of 2 s they span 17 s, and at
	// 30% loss one connection in 16 here failed so, the peer's DTLS
	// handshake still retransmitting. The cost is one retransmission every
	// 4 s while the path is down.
	DefaultSCTPRTOMax = 4 * time.Second
)

// TURNServer is a TURN relay with its long-term credentials (RFC 8656).
type TURNServer struct {
	URL      string // turn:host[:port][?transport=udp|tcp] or turns:host[:port][?transport=tcp]
	Username string
	Password string
}

// Config says how a peer gathers candidates and how long it waits. The zero
// value is usable (no STUN or TURN server, all defaults); DefaultConfig adds
// the public STUN servers.
type Config struct {
	// STUN lists STUN server URLs (stun:host[:port]). Empty means none.
	STUN []string
	// TURN lists TURN relays with credentials.
	TURN []TURNServer
	// PortMin and PortMax restrict the local UDP ports (0: any).
	PortMin, PortMax uint16
	// Networks lists the network types to gather: "udp4", "udp6", "tcp4",
	// "tcp6". Empty means udp4 and udp6.
	Networks []string
	// Loopback includes loopback addresses as host candidates (local tests, demo).
	Loopback bool
	// Interfaces, when not empty, limits host candidates to these network
	// interfaces (for example "lo").
	Interfaces []string
	// IPFilter, when set, keeps only the local addresses it returns true for.
	IPFilter func(netip.Addr) bool
	// GatherTimeout bounds candidate gathering; what was found by then goes
	// into the blob, and servers that did not answer are reported.
	GatherTimeout time.Duration
	// AnswerWait is how long the answering side keeps its ICE agent checking
	// while the offerer pastes the answer (default 10 minutes).
	AnswerWait time.Duration
	// ConnectTimeout is how long the offering side waits, after it has the
	// answer, for the channel to open.
	ConnectTimeout time.Duration
	// FailedTimeout is how long a connected peer may stay unreachable before
	// the connection is declared failed.
	FailedTimeout time.Duration
	// MaxCandidates caps the candidates put into a blob (at most MaxCandidates).
	MaxCandidates int
	// SocketBuffer is the UDP socket buffer size asked for (0: DefaultSocketBuffer, <0: OS default).
	SocketBuffer int
	// PreferAESGCM puts AES-128-GCM before ChaCha20-Poly1305 in the DTLS
	// cipher suite preference. ChaCha20-Poly1305 is preferred by default
	// (constant time on every CPU); AES-GCM is faster where the CPU has AES
	// instructions (see BenchmarkThroughput).
	PreferAESGCM bool
	// SCTPMinCwnd is the smallest congestion window of the SCTP association
	// in bytes (0: DefaultSCTPMinCwnd; <0: pion's default, one packet, as in
	// RFC 9260 §7.2.3). At most MaxSCTPMinCwnd.
	SCTPMinCwnd int
	// SCTPRTOMax caps SCTP's retransmission timeout (0: DefaultSCTPRTOMax;
	// <0: pion's default, RFC 9260's RTO.Max of 60 s). pion's RTO.Min is
	// 1 s; a smaller cap is raised to it. A cap below 4 s also shortens the
	// time SCTP keeps trying to set up the association (see
	// DefaultSCTPRTOMax).
	SCTPRTOMax time.Duration
	// OnState, when set, is called on every state change of the connection,
	// from a goroutine of the package (do not block in it).
	OnState func(State)
	// Log, when set, receives notes a user may want to see (a server that
	// did not answer, the candidates put into a blob).
	Log func(format string, args ...any)

	// wrapNet, when set (tests only), wraps the network pion uses, to
	// drop or delay packets.
	wrapNet func(transport.Net) transport.Net
}

// DefaultConfig returns a Config with Google's public STUN servers.
func DefaultConfig() Config {
	return Config{STUN: append([]string(nil), DefaultSTUN...)}
}

// LoopbackConfig returns a Config that uses only the loopback interface and
// no server: for tests and the demo.
func LoopbackConfig() Config {
	return Config{Loopback: true, IPFilter: func(a netip.Addr) bool { return a.IsLoopback() }, Networks: []string{"udp4"}}
}

func (c *Config) withDefaults() Config {
	d := *c
	if d.GatherTimeout <= 0 {
		d.GatherTimeout = DefaultGatherTimeout
	}
	if d.AnswerWait <= 0 {
		d.AnswerWait = DefaultAnswerWait
	}
	if d.ConnectTimeout <= 0 {
		d.ConnectTimeout = DefaultConnectTimeout
	}
	if d.FailedTimeout <= 0 {
		d.FailedTimeout = DefaultFailedTimeout
	}
	if d.MaxCandidates <= 0 || d.MaxCandidates > MaxCandidates {
		d.MaxCandidates = min(DefaultMaxCandidates, MaxCandidates)
		if c.MaxCandidates > MaxCandidates {
			d.MaxCandidates = MaxCandidates
		}
	}
	if d.SocketBuffer == 0 {
		d.SocketBuffer = DefaultSocketBuffer
	}
	if len(d.Networks) == 0 {
		d.Networks = []string{"udp4", "udp6"}
	}
	if d.SCTPMinCwnd == 0 {
		d.SCTPMinCwnd = DefaultSCTPMinCwnd
	}
	if d.SCTPRTOMax == 0 {
		d.SCTPRTOMax = DefaultSCTPRTOMax
	}
	if d.SCTPRTOMax > 0 && d.SCTPRTOMax < time.Second {
		d.SCTPRTOMax = time.Second
	}
	return d
}

// validate checks the server URLs and network names, so that a typo is
// reported before anything is gathered.
func (c *Config) validate() error {
	for _, s := range c.STUN {
		u, err := stun.ParseURI(s)
		if err != nil {
			return fmt.Errorf("rtc: STUN server %q: %w", s, err)
		}
		if u.Scheme != stun.SchemeTypeSTUN && u.Scheme != stun.SchemeTypeSTUNS {
			return fmt.Errorf("rtc: STUN server %q: want a stun: URL", s)
		}
	}
	for _, t := range c.TURN {
		u, err := stun.ParseURI(t.URL)
		if err != nil {
			return fmt.Errorf("rtc: TURN server %q: %w", t.URL, err)
		}
		if u.Scheme != stun.SchemeTypeTURN && u.Scheme != stun.SchemeTypeTURNS {
			return fmt.Errorf("rtc: TURN server %q: want a turn: or turns: URL", t.URL)
		}
		if t.Username == "" || t.Password == "" {
			return fmt.Errorf("rtc: TURN server %q needs a username and a password", t.URL)
		}
	}
	for _, n := range c.Networks {
		switch strings.ToLower(n) {
		case "udp4", "udp6", "tcp4", "tcp6":
		default:
			return fmt.Errorf("rtc: unknown network type %q (want udp4, udp6, tcp4 or tcp6)", n)
		}
	}
	if c.SCTPMinCwnd > MaxSCTPMinCwnd {
		return fmt.Errorf("rtc: SCTP minimum congestion window of %d bytes: at most %d", c.SCTPMinCwnd, MaxSCTPMinCwnd)
	}
	if c.PortMax != 0 && c.PortMin > c.PortMax {
		return fmt.Errorf("rtc: port range %d-%d is empty", c.PortMin, c.PortMax)
	}
	return nil
}

func (c *Config) logf(format string, args ...any) {
	if c.Log != nil {
		c.Log(format, args...)
	}
}
