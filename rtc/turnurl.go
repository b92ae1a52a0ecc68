package rtc

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/pion/stun/v3"
)

// ParseTURN reads a TURN server given as one string, with the credentials in
// the URL: turn:USER:PASSWORD@host[:port][?transport=udp|tcp], or turns:...
// (user and password percent-encoded where needed). Without credentials in
// the URL, user and password are used.
func ParseTURN(s, user, password string) (TURNServer, error) {
	scheme, rest, ok := strings.Cut(s, ":")
	if !ok || (scheme != "turn" && scheme != "turns") {
		return TURNServer{}, fmt.Errorf("TURN server %q: want turn:USER:PASSWORD@host:port or turns:...", s)
	}
	hostPart := rest
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		q := strings.Index(rest, "?")
		if q < 0 || i < q {
			u, p, ok := strings.Cut(rest[:i], ":")
			if !ok {
				return TURNServer{}, fmt.Errorf("TURN server %q: credentials must be USER:PASSWORD", s)
			}
			var err1, err2 error
			user, err1 = url.PathUnescape(u)
			password, err2 = url.PathUnescape(p)
			if err1 != nil || err2 != nil {
				return TURNServer{}, fmt.Errorf("TURN server %q: bad percent-encoding in the credentials", s)
			}
			hostPart = rest[i+1:]
		}
	}
	t := TURNServer{URL: scheme + ":" + hostPart, Username: user, Password: password}
	if _, err := stun.ParseURI(t.URL); err != nil {
		return TURNServer{}, fmt.Errorf("TURN server %q: %w", s, err)
	}
	if t.Username == "" || t.Password == "" {
		return TURNServer{}, fmt.Errorf("TURN server %q needs a username and a password (turn:USER:PASSWORD@host:port)", s)
	}
	return t, nil
}
