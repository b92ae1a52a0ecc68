package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	gokeyring "github.com/zalando/go-keyring"

	"github.com/rtcchat/rtcchat/netcheck"
	"github.com/rtcchat/rtcchat/rtc"
	"github.com/rtcchat/rtcchat/vault"
)

func init() { extraCommands = append(extraCommands, newDoctorCmd) }

// defaultDoctorSTUN are the servers doctor asks when --stun is not given:
// the transport's defaults (Google's public STUN servers), so that doctor
// checks what offer and answer will use. Two or more with different IP
// addresses are needed to classify the NAT.
var defaultDoctorSTUN = rtc.DefaultSTUN

// Check statuses, from good to bad.
const (
	statusOK   = "OK"
	statusWarn = "WARN"
	statusFail = "FAIL"
)

// keyringProbeService and keyringProbeUser name an item that never exists:
// doctor only reads it, so a working keyring answers "not found".
const (
	keyringProbeService = vault.KeyringService
	keyringProbeUser    = "rtcchat-doctor-probe (never stored)"
	keyringTimeout      = 5 * time.Second
)

// check is one line of the report.
type check struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

// stunJSON is one STUN server's result in --json output.
type stunJSON struct {
	Server string  `json:"server"`
	Addr   string  `json:"addr,omitempty"`
	Mapped string  `json:"mapped,omitempty"`
	RTTms  float64 `json:"rtt_ms,omitempty"`
	Error  string  `json:"error,omitempty"`
}

// turnJSON is one TURN server's result in --json output.
type turnJSON struct {
	Server       string  `json:"server"`
	Addr         string  `json:"addr,omitempty"`
	Relayed      string  `json:"relayed,omitempty"`
	RTTms        float64 `json:"rtt_ms,omitempty"`
	DataRelayed  bool    `json:"data_relayed"`
	AuthRejected bool    `json:"auth_rejected,omitempty"`
	Error        string  `json:"error,omitempty"`
}

// doctorReport is the whole result; --json prints it as one object.
type doctorReport struct {
	Checks          []check    `json:"checks"`
	STUN            []stunJSON `json:"stun"`
	PublicEndpoints []string   `json:"public_endpoints"`
	STUN6           []stunJSON `json:"stun_ipv6"`
	PublicIPv6      []string   `json:"public_endpoints_ipv6"`
	Mapping         string     `json:"mapping"`
	NoNAT           bool       `json:"no_nat"`
	TURN            []turnJSON `json:"turn"`
	Keyring         string     `json:"keyring"`
	DataDir         string     `json:"data_dir"`
	OK              bool       `json:"ok"`
}

type doctorOptions struct {
	stun     []string
	turn     []string
	turnUser string
	turnPass string
	timeout  time.Duration
	home     string // the data directory (resolved from --home, RTCCHAT_HOME or the OS default)
	homeErr  error  // why it could not be resolved
	json     bool
	local    string
	local6   string
	// keyringGet is go-keyring's Get; a test may point it elsewhere.
	keyringGet func(service, user string) (string, error)
}

func newDoctorCmd() *cobra.Command {
	o := &doctorOptions{keyringGet: keyringGetNoAutolaunch}
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check STUN/TURN reachability, your NAT, the keyring and the data directory",
		Long: `doctor checks what a connection between two peers depends on, and says for
each line what to do when something is wrong:

  - whether each STUN server answers, and the public endpoint it sees;
  - how your NAT maps one socket towards two different STUN servers:
    the same public endpoint for both means direct connections are likely;
    different endpoints ("symmetric NAT") mean a TURN relay is needed
    (see 'rtcchat relay');
  - whether each --turn server grants a relay allocation with your
    credentials and carries data;
  - whether the OS keyring is available (read-only check);
  - the data directory's permissions (0700 expected).

All probes run in parallel; each server gets --timeout to answer.
The exit status is 1 when a check FAILs.`,
		Example: `  rtcchat doctor
  rtcchat doctor --stun stun:stun.example.org:3478 --stun stun:stun.l.google.com:19302
  rtcchat doctor --turn turn:203.0.113.7:3478 --turn-user U --turn-pass P
  rtcchat doctor --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			o.home, o.homeErr = dataHome(cmd)
			if !cmd.Flags().Changed("stun") {
				o.stun = append([]string(nil), defaultDoctorSTUN...)
			}
			rep := runDoctor(ctx, o)
			if err := writeDoctorReport(cmd.OutOrStdout(), rep, o.json); err != nil {
				return err
			}
			if !rep.OK {
				n := 0
				for _, c := range rep.Checks {
					if c.Status == statusFail {
						n++
					}
				}
				return fmt.Errorf("doctor: %d check(s) failed", n)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.stun, "stun", nil, "STUN server URL to check, stun:HOST[:PORT] (repeatable; 'none' for none; default Google's public servers)")
	f.StringArrayVar(&o.turn, "turn", nil, "TURN server URL to test an allocation on, turn:HOST[:PORT][?transport=udp|tcp] or turns: (repeatable); credentials as turn:USER:PASS@HOST:PORT or with --turn-user/--turn-pass")
	f.StringVar(&o.turnUser, "turn-user", "", "TURN username for --turn URLs without credentials")
	f.StringVar(&o.turnPass, "turn-pass", "", "TURN password for --turn URLs without credentials")
	f.DurationVar(&o.timeout, "timeout", netcheck.DefaultTimeout, "how long each server gets to answer")
	f.BoolVar(&o.json, "json", false, "print the report as one JSON object")
	f.StringVar(&o.local, "local", "", "local address of the probe sockets (default 0.0.0.0:0)")
	f.StringVar(&o.local6, "local6", "", "local address of the IPv6 probe socket (default [::]:0)")
	_ = f.MarkHidden("local")
	_ = f.MarkHidden("local6")
	return cmd
}

// runDoctor runs every check in parallel and assembles the report in a fixed
// order: STUN servers, public endpoints, NAT mapping, TURN, keyring, data dir.
func runDoctor(ctx context.Context, o *doctorOptions) *doctorReport {
	p := &netcheck.Prober{Timeout: o.timeout, LocalAddr: o.local}
	var stunServers []string
	if !(len(o.stun) == 1 && strings.EqualFold(o.stun[0], "none")) {
		for _, s := range o.stun {
			if !strings.Contains(s, "stun:") && !strings.Contains(s, "stuns:") && !strings.HasPrefix(s, "turn") {
				s = "stun:" + s // host:port, as offer and answer accept
			}
			stunServers = append(stunServers, s)
		}
	}

	var (
		wg       sync.WaitGroup
		stunRep  *netcheck.STUNReport
		stunErr  error
		stun6Rep *netcheck.STUNReport
		stun6Err error
		turnRes  = make([]netcheck.TURNResult, len(o.turn))
		keyCheck check
	)
	if len(stunServers) > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stunRep, stunErr = p.STUN(ctx, stunServers)
		}()
		wg.Add(1)
		go func() {
			defer wg.Done()
			p6 := &netcheck.Prober{Timeout: o.timeout, LocalAddr: o.local6, IPv6: true}
			stun6Rep, stun6Err = p6.STUN(ctx, stunServers)
		}()
	}
	for i, u := range o.turn {
		wg.Add(1)
		go func() {
			defer wg.Done()
			turnRes[i] = p.TURN(ctx, u, o.turnUser, o.turnPass)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		keyCheck = checkKeyring(o.keyringGet, keyringTimeout)
	}()
	dirCheck, dir := checkDataDir(o.home, o.homeErr)
	wg.Wait()

	rep := &doctorReport{STUN: []stunJSON{}, STUN6: []stunJSON{}, TURN: []turnJSON{}, PublicEndpoints: []string{}, PublicIPv6: []string{},
		Mapping: string(netcheck.MappingUnknown), DataDir: dir}
	v6ok := false
	if stun6Rep != nil {
		rep.STUN6 = stunResultsJSON(stun6Rep.Results)
		for _, m := range stun6Rep.Mapping.Mapped {
			rep.PublicIPv6 = append(rep.PublicIPv6, m.String())
		}
		v6ok = len(rep.PublicIPv6) > 0
	}
	mapping := netcheck.MappingResult{Kind: netcheck.MappingUnknown}
	switch {
	case len(stunServers) == 0:
		rep.Checks = append(rep.Checks, check{Name: "STUN", Status: statusWarn,
			Detail: "no STUN server configured: peers behind NATs will only see private addresses",
			Fix:    "drop --stun none, or give a STUN server with --stun stun:HOST:PORT"})
	case stunErr != nil:
		rep.Checks = append(rep.Checks, check{Name: "STUN", Status: statusFail, Detail: stunErr.Error(),
			Fix: "another program may hold the socket, or the OS forbids UDP; check the firewall and --local"})
	default:
		rep.Checks = append(rep.Checks, stunChecks(stunRep, v6ok)...)
		mapping = stunRep.Mapping
		rep.STUN = stunResultsJSON(stunRep.Results)
		for _, m := range mapping.Mapped {
			rep.PublicEndpoints = append(rep.PublicEndpoints, m.String())
		}
		relayOK := false
		for _, r := range turnRes {
			relayOK = relayOK || r.Err == nil
		}
		rep.Checks = append(rep.Checks, endpointCheck(mapping), mappingCheck(mapping, relayOK))
	}
	if len(stunServers) > 0 {
		rep.Checks = append(rep.Checks, ipv6Check(stun6Rep, stun6Err))
	}
	rep.Mapping = string(mapping.Kind)
	rep.NoNAT = mapping.NoNAT

	rep.Checks = append(rep.Checks, turnChecks(turnRes, mapping)...)
	for _, r := range turnRes {
		j := turnJSON{Server: r.Server, DataRelayed: r.DataChecked, AuthRejected: r.AuthRejected}
		if r.Addr.IsValid() {
			j.Addr = r.Addr.String()
		}
		if r.Err != nil {
			j.Error = r.Err.Error()
		} else {
			j.Relayed = r.Relayed.String()
			j.RTTms = ms(r.RTT)
		}
		rep.TURN = append(rep.TURN, j)
	}

	rep.Checks = append(rep.Checks, keyCheck, dirCheck)
	rep.Keyring = "available"
	if keyCheck.Status != statusOK {
		rep.Keyring = "unavailable"
	}
	rep.OK = true
	for _, c := range rep.Checks {
		if c.Status == statusFail {
			rep.OK = false
		}
	}
	return rep
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func stunResultsJSON(results []netcheck.STUNResult) []stunJSON {
	out := []stunJSON{}
	for _, r := range results {
		j := stunJSON{Server: r.Server}
		if r.Addr.IsValid() {
			j.Addr = r.Addr.String()
		}
		if r.Err != nil {
			j.Error = r.Err.Error()
		} else {
			j.Mapped = r.Mapped.String()
			j.RTTms = ms(r.RTT)
		}
		out = append(out, j)
	}
	return out
}

// ipv6Check summarises the IPv6 probe. IPv6 is a bonus (offer and answer
// gather both families), so its absence is not a warning.
func ipv6Check(rep *netcheck.STUNReport, err error) check {
	c := check{Name: "IPv6", Status: statusOK}
	if err != nil {
		c.Detail = "not available on this host (" + err.Error() + "); connections use IPv4"
		return c
	}
	m := rep.Mapping
	if len(m.Mapped) == 0 {
		why := "no server has an IPv6 address"
		for _, r := range rep.Results {
			if r.Addr.IsValid() && r.Err != nil {
				why = r.Err.Error()
				break
			}
		}
		c.Detail = "no STUN server answered over IPv6 (" + why + "); connections use IPv4"
		return c
	}
	parts := make([]string, len(m.Mapped))
	for i, a := range m.Mapped {
		parts[i] = a.String()
	}
	c.Detail = "works; seen at " + strings.Join(parts, ", ")
	switch {
	case m.NoNAT:
		c.Detail += " (this host's own address: peers with IPv6 can reach you directly if no firewall drops inbound UDP)"
	case m.Kind == netcheck.MappingEndpointDependent:
		c.Detail += " (behind an endpoint-dependent NAT66)"
	}
	return c
}

func stunChecks(rep *netcheck.STUNReport, v6ok bool) []check {
	answered := 0
	for _, r := range rep.Results {
		if r.Err == nil {
			answered++
		}
	}
	var out []check
	for _, r := range rep.Results {
		c := check{Name: "STUN " + r.Server}
		switch {
		case r.Err == nil:
			c.Status = statusOK
			c.Detail = fmt.Sprintf("answered in %s; sees you at %s", r.RTT.Round(time.Millisecond), r.Mapped)
		default:
			c.Status = statusWarn
			if answered == 0 {
				c.Status = statusFail
			}
			c.Detail = r.Err.Error()
			switch {
			case errors.Is(r.Err, netcheck.ErrTimeout) && r.Addr.IsValid():
				c.Fix = fmt.Sprintf("check the address; a firewall may block outgoing UDP to port %d", r.Addr.Port())
			case errors.Is(r.Err, netcheck.ErrTimeout):
				c.Fix = "name resolution is slow or failing: check DNS, or give the server's IP address"
			case strings.Contains(r.Err.Error(), "resolve"):
				c.Fix = "check the host name and your DNS, or give the server's IP address"
			default:
				c.Fix = "check the URL: stun:HOST[:PORT]"
			}
			if answered > 0 {
				c.Fix += fmt.Sprintf(" (%d other server(s) answered, so only this one is affected)", answered)
			}
		}
		out = append(out, c)
	}
	if answered == 0 && len(rep.Results) > 0 {
		c := check{Name: "STUN", Status: statusFail, Detail: "no STUN server answered over IPv4"}
		if v6ok {
			// IPv6 works: peers with IPv6 can still connect.
			c.Status = statusWarn
			c.Detail += " (IPv6 works, so peers with IPv6 can still connect)"
			for i := range out {
				out[i].Status = statusWarn
			}
		}
		timeouts := 0
		for _, r := range rep.Results {
			if errors.Is(r.Err, netcheck.ErrTimeout) && r.Addr.IsValid() {
				timeouts++
			}
		}
		if timeouts > 0 {
			c.Fix = "outgoing UDP may be blocked here: only a TURN relay reached over TCP or TLS (turn:...?transport=tcp, turns:) can connect you then"
		} else {
			c.Fix = "no server name could be resolved or used: check the network connection and DNS"
		}
		out = append(out, c)
	}
	return out
}

func endpointCheck(m netcheck.MappingResult) check {
	c := check{Name: "public endpoint"}
	switch len(m.Mapped) {
	case 0:
		c.Status = statusWarn
		c.Detail = "unknown: no STUN server answered"
		c.Fix = "see the STUN lines above; without a public endpoint, peers outside your network can reach you only through a TURN relay"
	case 1:
		c.Status = statusOK
		c.Detail = m.Mapped[0].String()
		if m.NoNAT {
			c.Detail += " (this host's own address: no NAT)"
		}
	default:
		parts := make([]string, len(m.Mapped))
		for i, a := range m.Mapped {
			parts[i] = a.String()
		}
		c.Status = statusWarn
		c.Detail = strings.Join(parts, ", ") + " (one local socket, several public endpoints)"
		c.Fix = "see the NAT mapping line"
	}
	return c
}

// mappingCheck turns the NAT verdict into a line; relayOK says whether a
// configured TURN server granted an allocation.
func mappingCheck(m netcheck.MappingResult, relayOK bool) check {
	c := check{Name: "NAT mapping", Detail: string(m.Kind) + ": " + m.Detail}
	switch m.Kind {
	case netcheck.MappingEndpointIndependent:
		c.Status = statusOK
		if m.NoNAT {
			c.Detail += "; peers can reach you directly if no firewall drops inbound UDP"
		} else {
			c.Detail += "; a direct connection is likely"
		}
		if m.SameServerIP {
			c.Status = statusWarn
			c.Fix = "give two STUN servers with different IP addresses (--stun twice) for a reliable verdict"
		}
	case netcheck.MappingEndpointDependent:
		c.Status = statusWarn
		c.Detail += "; symmetric NAT: the endpoint a STUN server sees is useless to your peer, so a direct connection works only if your peer's NAT is open"
		c.Fix = "use a TURN relay: run 'rtcchat relay' on a host with a public address (or use a TURN service) and give both peers its --turn URL"
		if relayOK {
			c.Fix = "the TURN relay checked below works: give the same --turn to both peers' offer and answer"
		}
	default:
		c.Status = statusWarn
		c.Fix = "two STUN servers with different IP addresses must answer; add one with --stun"
	}
	return c
}

func turnChecks(results []netcheck.TURNResult, m netcheck.MappingResult) []check {
	if len(results) == 0 {
		c := check{Name: "TURN", Status: statusOK, Detail: "no TURN server configured (only needed behind a symmetric NAT or a UDP-blocking firewall)"}
		if m.Kind == netcheck.MappingEndpointDependent {
			c.Status = statusWarn
			c.Detail = "no TURN server configured, but your NAT needs one"
			c.Fix = "run 'rtcchat relay' on a public host and pass its URL with --turn"
		}
		return []check{c}
	}
	var out []check
	for _, r := range results {
		c := check{Name: "TURN " + r.Server}
		switch {
		case r.Err == nil && r.DataChecked:
			c.Status = statusOK
			c.Detail = fmt.Sprintf("allocation granted in %s, relay address %s; data relayed both ways", r.RTT.Round(time.Millisecond), r.Relayed)
		case r.Err == nil && r.DataErr != nil:
			c.Status = statusWarn
			c.Detail = fmt.Sprintf("allocation granted, relay address %s, but %v", r.Relayed, r.DataErr)
			c.Fix = "the relay's address or port range may be blocked by its firewall, or its --public-ip is wrong"
		case r.Err == nil:
			c.Status = statusOK
			c.Detail = fmt.Sprintf("allocation granted in %s, relay address %s", r.RTT.Round(time.Millisecond), r.Relayed)
		case r.AuthRejected:
			c.Status = statusFail
			c.Detail = r.Err.Error()
			c.Fix = "check the username and password (the ones 'rtcchat relay' printed; they change each time it starts)"
		case errors.Is(r.Err, netcheck.ErrTimeout):
			c.Status = statusFail
			c.Detail = r.Err.Error()
			c.Fix = "check the host and port, that the relay is running, and that its firewall lets UDP (or TCP for ?transport=tcp) in"
		default:
			c.Status = statusFail
			c.Detail = r.Err.Error()
			c.Fix = "check the URL: turn:HOST[:PORT][?transport=udp|tcp] or turns:HOST[:PORT], with credentials"
		}
		out = append(out, c)
	}
	return out
}

// keyringGetNoAutolaunch is go-keyring's Get, unless there is no D-Bus
// session bus: godbus would then start one that outlives the doctor.
func keyringGetNoAutolaunch(service, user string) (string, error) {
	if err := vault.CheckSessionBus(); err != nil {
		return "", err
	}
	return gokeyring.Get(service, user)
}

// checkKeyring reads an item that never exists. go-keyring's "not found" means
// the keyring answered (available); any other error, or no answer within
// timeout, means it is unavailable. Nothing is written.
func checkKeyring(get func(service, user string) (string, error), timeout time.Duration) check {
	c := check{Name: "keyring"}
	if os.Getenv(vault.NoKeyringEnv) != "" {
		c.Status = statusOK
		c.Detail = "not used: disabled by " + vault.NoKeyringEnv + "; identities are sealed with a passphrase"
		return c
	}
	done := make(chan error, 1)
	go func() {
		_, err := get(keyringProbeService, keyringProbeUser)
		done <- err
	}()
	var err error
	select {
	case err = <-done:
	case <-time.After(timeout):
		c.Status = statusWarn
		c.Detail = fmt.Sprintf("the OS keyring did not answer within %v (locked, or waiting for an unlock prompt)", timeout)
		c.Fix = "unlock your keyring; otherwise rtcchat seals identities with a passphrase (RTCCHAT_PASSPHRASE for scripts)"
		return c
	}
	switch {
	case err == nil, errors.Is(err, gokeyring.ErrNotFound):
		c.Status = statusOK
		c.Detail = "available (" + keyringKind() + "); identities are sealed with a key kept there"
	default:
		c.Status = statusWarn
		c.Detail = "unavailable: " + err.Error()
		c.Fix = "rtcchat will seal identities with a passphrase instead (RTCCHAT_PASSPHRASE for scripts)"
		if runtime.GOOS == "linux" {
			c.Fix += "; for a keyring, run a Secret Service (gnome-keyring, KeePassXC) in your D-Bus session"
		}
	}
	return c
}

func keyringKind() string {
	switch runtime.GOOS {
	case "darwin":
		return "macOS Keychain"
	case "windows":
		return "Windows Credential Manager"
	default:
		return "Secret Service"
	}
}

// checkDataDir checks that the data directory (--home, $RTCCHAT_HOME or
// os.UserConfigDir()/rtcchat, as resolved by dataHome), if it exists, is a
// directory owned by this user that nobody else can read or write (0700), and
// that nothing in it (two levels deep) is open to others.
func checkDataDir(dir string, resolveErr error) (check, string) {
	c := check{Name: "data directory"}
	if resolveErr != nil || dir == "" {
		c.Status = statusFail
		c.Detail = "cannot find the data directory"
		if resolveErr != nil {
			c.Detail += ": " + resolveErr.Error()
		}
		c.Fix = "set --home DIR or " + vault.HomeEnv
		return c, ""
	}
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		c.Status = statusOK
		c.Detail = dir + " does not exist yet; it will be created (mode 0700) on first use"
		return c, dir
	case err != nil:
		c.Status = statusFail
		c.Detail = err.Error()
		c.Fix = "make " + dir + " readable by you, or choose another with --home"
		return c, dir
	case !fi.IsDir():
		c.Status = statusFail
		c.Detail = dir + " exists but is not a directory"
		c.Fix = "move it away, or choose another data directory with --home"
		return c, dir
	}
	if runtime.GOOS == "windows" {
		c.Status = statusOK
		c.Detail = dir + " exists (access is governed by Windows ACLs)"
		return c, dir
	}
	if uid, ok := fileOwner(fi); ok && uid != os.Getuid() {
		c.Status = statusFail
		c.Detail = fmt.Sprintf("%s is owned by uid %d, not by you (uid %d)", dir, uid, os.Getuid())
		c.Fix = "chown it to yourself, or choose another data directory with --home"
		return c, dir
	}
	var open []string
	writable := false
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if rel, _ := filepath.Rel(dir, path); strings.Count(rel, string(filepath.Separator)) >= 2 && d.IsDir() {
			return filepath.SkipDir
		}
		info, err := d.Info()
		if err != nil || info.Mode()&fs.ModeSymlink != 0 {
			return nil
		}
		if perm := info.Mode().Perm(); perm&0o077 != 0 {
			open = append(open, fmt.Sprintf("%s (%04o)", path, perm))
			if perm&0o022 != 0 {
				writable = true
			}
		}
		if len(open) >= 5 {
			return fs.SkipAll
		}
		return nil
	})
	if len(open) == 0 {
		c.Status = statusOK
		c.Detail = fmt.Sprintf("%s exists, mode %04o, private to you", dir, fi.Mode().Perm())
		return c, dir
	}
	c.Status = statusWarn
	if writable {
		c.Status = statusFail
	}
	c.Detail = "open to other users: " + strings.Join(open, ", ")
	c.Fix = "chmod -R go-rwx " + shellQuote(dir)
	return c, dir
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '/' || r == '.' || r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func writeDoctorReport(w io.Writer, rep *doctorReport, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	var b strings.Builder
	for _, c := range rep.Checks {
		fmt.Fprintf(&b, "%-4s  %s: %s\n", c.Status, c.Name, c.Detail)
		if c.Fix != "" {
			fmt.Fprintf(&b, "      -> %s\n", c.Fix)
		}
	}
	switch {
	case !rep.OK:
		b.WriteString("\nSome checks failed: see the lines marked FAIL and what to do about them.\n")
	default:
		warn := false
		for _, c := range rep.Checks {
			warn = warn || c.Status == statusWarn
		}
		if warn {
			b.WriteString("\nNo failures; the WARN lines say what may get in the way.\n")
		} else {
			b.WriteString("\nAll checks passed.\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
