package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pion/logging"
	"github.com/pion/turn/v5"
	"github.com/spf13/cobra"
)

func init() { extraCommands = append(extraCommands, newRelayCmd) }

// relayRealm is the realm of the long-term credential mechanism (RFC 8489 §9.2).
const relayRealm = "rtcchat"

type relayOptions struct {
	listen    string
	publicIP  string
	ports     string
	maxAllocs int
	noTCP     bool
	tlsListen string
	tlsCert   string
	tlsKey    string
	tlsHost   string
	credsFile string
}

func newRelayCmd() *cobra.Command {
	o := &relayOptions{}
	cmd := &cobra.Command{
		Use:   "relay",
		Short: "Run a TURN relay for peers behind symmetric NATs",
		Long: `relay runs a TURN server (RFC 8656) with freshly generated credentials and
prints the --turn flags to give to both peers. Use it when 'rtcchat doctor'
reports an endpoint-dependent ("symmetric") NAT on one side and a direct
connection fails: both peers then reach each other through this relay.
The relay only forwards encrypted packets (DTLS); it learns nothing of the
conversation.

Run it on a host with a public address, with --public-ip set to that address
(without it, the first non-loopback interface address is used and you are
warned). The listening port (UDP, and TCP on the same port) and the relay
port range must be open in the host's firewall.

It runs until Ctrl-C and logs allocations (addresses only, never credentials).`,
		Example: `  rtcchat relay --public-ip 203.0.113.7
  rtcchat relay --listen 0.0.0.0:3478 --public-ip 203.0.113.7 --ports 49152-49407`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runRelay(ctx, o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.listen, "listen", "0.0.0.0:3478", "UDP (and TCP) address to listen on")
	f.StringVar(&o.publicIP, "public-ip", "", "public IP address of this host, announced as the relay address (default: the first non-loopback interface address)")
	f.StringVar(&o.ports, "ports", "", "relay port range MIN-MAX (default: any free port)")
	f.IntVar(&o.maxAllocs, "max-allocations", 64, "most allocations at a time (each peer needs one)")
	f.BoolVar(&o.noTCP, "no-tcp", false, "do not accept TURN over TCP on the listening port")
	f.StringVar(&o.tlsListen, "tls-listen", "", "also accept TURN over TLS (turns:) on this TCP address, such as 0.0.0.0:5349 or :443 (needs --tls-cert and --tls-key)")
	f.StringVar(&o.tlsCert, "tls-cert", "", "PEM certificate chain for --tls-listen")
	f.StringVar(&o.tlsKey, "tls-key", "", "PEM private key for --tls-listen")
	f.StringVar(&o.credsFile, "credentials", "", "keep the generated username and password in this file (created 0600) and reuse them on the next start")
	f.StringVar(&o.tlsHost, "tls-host", "", "host name in the certificate, used in the printed turns: URL (default: the relay address)")
	return cmd
}

// relayCredentials returns a random username and password drawn from
// letters and digits only, so the URL needs no escaping or shell quoting.
func relayCredentials() (user, pass string) {
	return "rtc" + rand.Text()[:8], rand.Text()
}

// maxCredentialsFile bounds the credentials file read by --credentials.
const maxCredentialsFile = 512

// parseRelayCredentials parses a credentials file: one line USER:PASS, both
// made of URL-unreserved characters (so the printed URL needs no escaping),
// the password at least 16 characters long.
func parseRelayCredentials(b []byte) (user, pass string, err error) {
	if len(b) > maxCredentialsFile {
		return "", "", fmt.Errorf("credentials file too long (%d bytes, at most %d)", len(b), maxCredentialsFile)
	}
	line := strings.TrimRight(string(b), "\r\n")
	if strings.ContainsAny(line, "\r\n") {
		return "", "", errors.New("credentials file: want one line USER:PASS")
	}
	user, pass, ok := strings.Cut(line, ":")
	if !ok {
		return "", "", errors.New("credentials file: want USER:PASS")
	}
	unreserved := func(s string) bool {
		for _, r := range s {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_' || r == '~') {
				return false
			}
		}
		return true
	}
	switch {
	case user == "" || len(user) > 128 || !unreserved(user):
		return "", "", errors.New("credentials file: the username must be 1-128 letters, digits or -._~")
	case len(pass) < 16 || len(pass) > 128 || !unreserved(pass):
		return "", "", errors.New("credentials file: the password must be 16-128 letters, digits or -._~")
	}
	return user, pass, nil
}

// loadRelayCredentials reads the credentials file, or creates it with fresh
// credentials (mode 0600, written to a temporary file and renamed into
// place). A file that others can read is refused.
func loadRelayCredentials(path string) (user, pass string, created bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		user, pass = relayCredentials()
		tmp, err := os.CreateTemp(filepath.Dir(path), ".rtcchat-relay-*")
		if err != nil {
			return "", "", false, fmt.Errorf("--credentials: %w", err)
		}
		defer os.Remove(tmp.Name())
		_, werr := tmp.WriteString(user + ":" + pass + "\n")
		if err := errors.Join(werr, tmp.Chmod(0o600), tmp.Sync(), tmp.Close()); err != nil {
			return "", "", false, fmt.Errorf("--credentials: write %s: %w", tmp.Name(), err)
		}
		if err := os.Rename(tmp.Name(), path); err != nil {
			return "", "", false, fmt.Errorf("--credentials: %w", err)
		}
		return user, pass, true, nil
	}
	if err != nil {
		return "", "", false, fmt.Errorf("--credentials: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", "", false, fmt.Errorf("--credentials: %w", err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return "", "", false, fmt.Errorf("--credentials: %s is open to other users (mode %04o): chmod 600 %s", path, fi.Mode().Perm(), shellQuote(path))
	}
	b, err := io.ReadAll(io.LimitReader(f, maxCredentialsFile+1))
	if err != nil {
		return "", "", false, fmt.Errorf("--credentials: %w", err)
	}
	user, pass, err = parseRelayCredentials(b)
	if err != nil {
		return "", "", false, fmt.Errorf("--credentials %s: %w", path, err)
	}
	return user, pass, false, nil
}

// parsePortRange parses MIN-MAX.
func parsePortRange(s string) (lo, hi uint16, err error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, fmt.Errorf("--ports %q: want MIN-MAX, such as 49152-65535", s)
	}
	x, err1 := strconv.ParseUint(strings.TrimSpace(a), 10, 16)
	y, err2 := strconv.ParseUint(strings.TrimSpace(b), 10, 16)
	if err1 != nil || err2 != nil || x == 0 || y < x {
		return 0, 0, fmt.Errorf("--ports %q: want MIN-MAX with 1 <= MIN <= MAX <= 65535", s)
	}
	return uint16(x), uint16(y), nil
}

// pickRelayIP chooses the relay address announced to clients: --public-ip,
// else the listening IP, else the first non-loopback IPv4 interface address.
// warn explains why the choice may be wrong.
func pickRelayIP(publicIP string, listenIP netip.Addr, ifaceAddrs []netip.Addr) (ip netip.Addr, warn string, err error) {
	if publicIP != "" {
		ip, err := netip.ParseAddr(publicIP)
		if err != nil || !ip.Is4() && !ip.Is6() || ip.IsUnspecified() {
			return netip.Addr{}, "", fmt.Errorf("--public-ip %q is not a usable IP address", publicIP)
		}
		ip = ip.Unmap()
		if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() {
			warn = fmt.Sprintf("--public-ip %s is not a public address: only peers that can reach it (same host or network) can use this relay", ip)
		}
		return ip, warn, nil
	}
	if listenIP.IsValid() && !listenIP.IsUnspecified() {
		ip = listenIP.Unmap()
		if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() {
			warn = fmt.Sprintf("announcing the listening address %s, which is not public; set --public-ip for peers elsewhere", ip)
		}
		return ip, warn, nil
	}
	for _, a := range ifaceAddrs {
		a = a.Unmap()
		if a.Is4() && !a.IsLoopback() && !a.IsLinkLocalUnicast() && !a.IsUnspecified() {
			warn = fmt.Sprintf("no --public-ip given: announcing %s, the first interface address", a)
			if a.IsPrivate() {
				warn += "; it is a private address, so if this host is behind a NAT, set --public-ip to the NAT's public address and forward the ports"
			} else {
				warn += "; set --public-ip if the host has several addresses"
			}
			return a, warn, nil
		}
	}
	return netip.Addr{}, "", errors.New("no non-loopback IPv4 address found: set --public-ip")
}

func interfaceAddrs() []netip.Addr {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []netip.Addr
	for _, a := range addrs {
		if pn, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(pn.IP); ok {
				out = append(out, ip.Unmap())
			}
		}
	}
	return out
}

// relayPermission refuses relaying to addresses a public relay must not
// reach on behalf of strangers: the host's own loopback (unless the relay
// itself listens on loopback, as in tests), unspecified, multicast and
// link-local addresses.
func relayPermission(allowLoopback bool) turn.PermissionHandler {
	return func(_ net.Addr, peer net.IP) bool {
		ip, ok := netip.AddrFromSlice(peer)
		if !ok {
			return false
		}
		ip = ip.Unmap()
		switch {
		case ip.IsUnspecified(), ip.IsMulticast(), ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast(), ip.IsInterfaceLocalMulticast():
			return false
		case ip.IsLoopback():
			return allowLoopback
		}
		return true
	}
}

// relayLogger writes timestamped lines; safe for concurrent use.
type relayLogger struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *relayLogger) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "%s "+format+"\n", append([]any{time.Now().UTC().Format("15:04:05")}, args...)...)
}

// runRelay starts the TURN server, prints how to use it on out, logs events
// on logw and returns when ctx ends.
func runRelay(ctx context.Context, o *relayOptions, out, logw io.Writer) error {
	host, portStr, err := net.SplitHostPort(o.listen)
	if err != nil {
		return fmt.Errorf("--listen %q: %w", o.listen, err)
	}
	var listenIP netip.Addr
	if host != "" {
		if listenIP, err = netip.ParseAddr(host); err != nil {
			return fmt.Errorf("--listen %q: the host must be an IP address", o.listen)
		}
	}
	if _, err := strconv.ParseUint(portStr, 10, 16); err != nil {
		return fmt.Errorf("--listen %q: bad port", o.listen)
	}
	relayIP, warn, err := pickRelayIP(o.publicIP, listenIP, interfaceAddrs())
	if err != nil {
		return err
	}
	if o.maxAllocs <= 0 {
		return fmt.Errorf("--max-allocations must be positive")
	}
	bindHost := "0.0.0.0"
	network := "udp4"
	if listenIP.IsValid() {
		bindHost = listenIP.String()
		if listenIP.Is6() && !listenIP.Is4In6() {
			network = "udp6"
		}
	}
	if relayIP.Is4() != (network == "udp4") {
		return fmt.Errorf("the relay address %s and --listen %s are of different IP families: use --listen 0.0.0.0:PORT with an IPv4 --public-ip, or [::]:PORT with an IPv6 one", relayIP, o.listen)
	}

	var gen turn.RelayAddressGenerator = &turn.RelayAddressGeneratorStatic{RelayAddress: relayIP.AsSlice(), Address: bindHost}
	portNote := "any free port"
	if o.ports != "" {
		lo, hi, err := parsePortRange(o.ports)
		if err != nil {
			return err
		}
		gen = &turn.RelayAddressGeneratorPortRange{RelayAddress: relayIP.AsSlice(), Address: bindHost, MinPort: lo, MaxPort: hi}
		portNote = o.ports
	}

	user, pass := relayCredentials()
	credNote := "the password is new each time the relay starts"
	if o.credsFile != "" {
		var created bool
		if user, pass, created, err = loadRelayCredentials(o.credsFile); err != nil {
			return err
		}
		credNote = "kept in " + o.credsFile
		if created {
			credNote = "new, saved in " + o.credsFile
		}
	}

	var tlsConf *tls.Config
	if o.tlsListen != "" || o.tlsCert != "" || o.tlsKey != "" {
		if o.tlsListen == "" || o.tlsCert == "" || o.tlsKey == "" {
			return errors.New("--tls-listen, --tls-cert and --tls-key go together")
		}
		cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
		if err != nil {
			return fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}

	lc := net.ListenConfig{}
	pc, err := lc.ListenPacket(ctx, network, o.listen)
	if err != nil {
		return fmt.Errorf("listen on udp %s: %w (is another TURN server running? choose another --listen port)", o.listen, err)
	}
	port := pc.LocalAddr().(*net.UDPAddr).Port
	log := &relayLogger{w: logw}
	if warn != "" {
		log.printf("WARNING: %s", warn)
	}

	userKey := turn.GenerateAuthKey(user, relayRealm, pass)
	var open atomic.Int64 // allocations open now, from the event callbacks
	cfg := turn.ServerConfig{
		Realm: relayRealm,
		AuthHandler: func(ra *turn.RequestAttributes) (string, []byte, bool) {
			if ra.Username != user || ra.Realm != relayRealm {
				return "", nil, false
			}
			return ra.Username, userKey, true
		},
		QuotaHandler: func(_, _ string, _ net.Addr) bool {
			return open.Load() < int64(o.maxAllocs)
		},
		EventHandler: turn.EventHandler{
			OnAuth: func(src, _ net.Addr, proto, _, _ string, method string, ok bool) {
				if !ok {
					log.printf("refused %s request from %s (%s): wrong credentials", method, src, proto)
				}
			},
			OnAllocationCreated: func(src, _ net.Addr, proto, _, _ string, relayed net.Addr, _ int) {
				open.Add(1)
				log.printf("allocation for %s (%s): relaying on %s", src, proto, relayed)
			},
			OnAllocationDeleted: func(src, _ net.Addr, proto, _, _ string) {
				open.Add(-1)
				log.printf("allocation for %s (%s) ended", src, proto)
			},
			OnAllocationError: func(src, _ net.Addr, proto, message string) {
				log.printf("allocation for %s (%s) failed: %s", src, proto, message)
			},
		},
		PacketConnConfigs: []turn.PacketConnConfig{{
			PacketConn:            pc,
			RelayAddressGenerator: gen,
			PermissionHandler:     relayPermission(listenIP.IsLoopback()),
		}},
		LoggerFactory: quietLoggerFactory(),
	}
	listeners := []string{"udp " + pc.LocalAddr().String()}
	if !o.noTCP {
		tcpAddr := net.JoinHostPort(host, strconv.Itoa(port))
		if l, err := lc.Listen(ctx, strings.Replace(network, "udp", "tcp", 1), tcpAddr); err != nil {
			log.printf("WARNING: TURN over TCP disabled: %v", err)
		} else {
			cfg.ListenerConfigs = []turn.ListenerConfig{{
				Listener:              l,
				RelayAddressGenerator: gen,
				PermissionHandler:     relayPermission(listenIP.IsLoopback()),
			}}
			listeners = append(listeners, "tcp "+l.Addr().String())
		}
	}
	tlsURL := ""
	if tlsConf != nil {
		l, err := lc.Listen(ctx, "tcp", o.tlsListen)
		if err != nil {
			pc.Close()
			for _, l := range cfg.ListenerConfigs {
				l.Listener.Close()
			}
			return fmt.Errorf("listen on tcp %s for TLS: %w", o.tlsListen, err)
		}
		cfg.ListenerConfigs = append(cfg.ListenerConfigs, turn.ListenerConfig{
			Listener:              tls.NewListener(l, tlsConf),
			RelayAddressGenerator: gen,
			PermissionHandler:     relayPermission(listenIP.IsLoopback()),
		})
		h := o.tlsHost
		if h == "" {
			h = relayIP.String()
		}
		tlsURL = fmt.Sprintf("turns:%s:%s@%s?transport=tcp", user, pass, net.JoinHostPort(h, strconv.Itoa(l.Addr().(*net.TCPAddr).Port)))
		listeners = append(listeners, "tls "+l.Addr().String())
	}
	srv, err := turn.NewServer(cfg)
	if err != nil {
		pc.Close()
		for _, l := range cfg.ListenerConfigs {
			l.Listener.Close()
		}
		return fmt.Errorf("start the TURN server: %w", err)
	}
	defer srv.Close()

	hostPort := net.JoinHostPort(relayIP.String(), strconv.Itoa(port))
	fmt.Fprintf(out, `TURN relay running (%s), relay address %s, relay ports %s, realm %q.
Give both peers these flags (credentials %s):

  --turn 'turn:%s?transport=udp' --turn-user %s --turn-pass %s

or the same as one URL:

  --turn 'turn:%s:%s@%s?transport=udp'

Check it from another machine: rtcchat doctor --turn 'turn:%s:%s@%s?transport=udp'
`, strings.Join(listeners, ", "), relayIP, portNote, relayRealm, credNote,
		hostPort, user, pass,
		user, pass, hostPort,
		user, pass, hostPort)
	if tlsURL != "" {
		fmt.Fprintf(out, "\nPeers whose firewall lets only TLS out can use TURN over TLS:\n\n  --turn '%s'\n", tlsURL)
	}
	fmt.Fprintln(out, "Press Ctrl-C to stop.")

	<-ctx.Done()
	log.printf("stopping the relay (%d allocation(s) open)", open.Load())
	return nil
}

// quietLoggerFactory silences pion's own logging; the relay logs its events itself.
func quietLoggerFactory() logging.LoggerFactory {
	f := logging.NewDefaultLoggerFactory()
	f.DefaultLogLevel = logging.LogLevelDisabled
	f.Writer = io.Discard
	return f
}
