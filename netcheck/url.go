package netcheck

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/pion/stun/v4"
)

// MaxURLLength bounds every STUN/TURN URL this package parses.
const MaxURLLength = 1024

// Server is a parsed STUN or TURN server URL (RFC 7064, RFC 7065).
type Server struct {
	// URL is the URL as given, with any password removed (safe to print).
	URL string
	// Scheme is "stun", "stuns", "turn" or "turns".
	Scheme string
	// Host and Port name the server. Port defaults to 3478 (5349 for stuns/turns).
	Host string
	Port int
	// Transport is "udp" or "tcp" (turns and stuns run over TLS on TCP).
	Transport string
	// Username and Password are the TURN long-term credentials, when given
	// in the URL as turn:USER:PASS@HOST:PORT (percent-encoded where needed).
	Username string
	Password string
}

// Address returns host:port.
func (s Server) Address() string { return joinHostPort(s.Host, s.Port) }

// IsTURN reports whether the URL names a TURN server.
func (s Server) IsTURN() bool { return s.Scheme == "turn" || s.Scheme == "turns" }

// ParseURL parses stun:HOST[:PORT], stuns:, turn:HOST[:PORT][?transport=udp|tcp]
// and turns: URLs. TURN URLs may carry long-term credentials before the host,
// turn:USER:PASS@HOST:PORT, percent-encoded where they contain ':' or '@'; the
// host part then follows RFC 7065 and is parsed by pion/stun.
func ParseURL(raw string) (Server, error) {
	if len(raw) > MaxURLLength {
		return Server{}, fmt.Errorf("server URL too long (%d bytes, at most %d)", len(raw), MaxURLLength)
	}
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return Server{}, errors.New("empty server URL")
	}
	scheme, rest, ok := strings.Cut(raw, ":")
	if !ok {
		return Server{}, fmt.Errorf("server URL %q: missing scheme (expected stun:, stuns:, turn: or turns:)", raw)
	}
	scheme = strings.ToLower(scheme)
	switch scheme {
	case "stun", "stuns", "turn", "turns":
	default:
		return Server{}, fmt.Errorf("server URL %q: unknown scheme %q (expected stun:, stuns:, turn: or turns:)", redact(raw), scheme)
	}
	var user, pass string
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		if scheme == "stun" || scheme == "stuns" {
			return Server{}, fmt.Errorf("server URL %q: STUN URLs carry no credentials", redact(raw))
		}
		cred := rest[:i]
		rest = rest[i+1:]
		u, p, ok := strings.Cut(cred, ":")
		if !ok {
			return Server{}, fmt.Errorf("server URL %q: credentials must be USER:PASS@", redact(raw))
		}
		var err error
		if user, err = url.PathUnescape(u); err != nil {
			return Server{}, fmt.Errorf("server URL %q: bad username encoding: %w", redact(raw), err)
		}
		if pass, err = url.PathUnescape(p); err != nil {
			return Server{}, errors.New("server URL: bad password encoding")
		}
		if user == "" {
			return Server{}, fmt.Errorf("server URL %q: empty username", redact(raw))
		}
	}
	if strings.HasPrefix(rest, "//") {
		return Server{}, fmt.Errorf("server URL %q: no '//' after the scheme (write %s:HOST:PORT)", redact(raw), scheme)
	}
	u, err := stun.ParseURI(scheme + ":" + rest)
	if err != nil {
		return Server{}, fmt.Errorf("server URL %q: %w", redact(raw), err)
	}
	s := Server{
		URL:       scheme + ":" + rest,
		Scheme:    scheme,
		Host:      u.Host,
		Port:      u.Port,
		Transport: u.Proto.String(),
		Username:  user,
		Password:  pass,
	}
	if user != "" {
		s.URL = scheme + ":" + url.PathEscape(user) + ":***@" + rest
	}
	if s.Port <= 0 || s.Port > 65535 {
		return Server{}, fmt.Errorf("server URL %q: port %d out of range", s.URL, s.Port)
	}
	return s, nil
}

// redact hides a password in a URL of the form scheme:USER:PASS@HOST.
func redact(raw string) string {
	scheme, rest, ok := strings.Cut(raw, ":")
	if !ok {
		return raw
	}
	i := strings.LastIndexByte(rest, '@')
	if i < 0 {
		return raw
	}
	u, _, _ := strings.Cut(rest[:i], ":")
	return scheme + ":" + u + ":***@" + rest[i+1:]
}
